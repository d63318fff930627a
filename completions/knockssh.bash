# bash completion for knockssh(1).
# knockssh's long options; DESTINATION from the Host names of the ssh config
# and the knock stanzas; everything else is ssh's own completion.

_knockssh_modes='--proxy --has-stanza --native --knock --check --init --new-sequence --rules --install --uninstall --confirm --revert --server-status --watch --interfaces --version --help'
_knockssh_options='--config --ssh-config --knock-verbose --verbose --log --progress --early-banner --port --sequence --window --protocol --margin --retries --source --interface --ipv4 --ipv6 --settings --bursts --secure-port --tag --dnat --seed-rules --fail-limit --fail-period --fail-prefix6 --format --output --family --dry-run --revert-after --persist --list --count --duration'

# _knockssh_hosts prints the plain Host names (no patterns) of the ssh
# config and the knock configs.
_knockssh_hosts() {
	local f
	for f in ~/.ssh/config ~/.ssh/knock_config /etc/ssh/ssh_config /etc/ssh/knock_config; do
		[ -r "$f" ] || continue
		awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' "$f"
	done 2>/dev/null
}

_knockssh() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--config | --ssh-config | --settings | --output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--protocol)
		COMPREPLY=($(compgen -W 'udp tcp raw' -- "$cur"))
		return
		;;
	--format)
		COMPREPLY=($(compgen -W 'restore shell' -- "$cur"))
		return
		;;
	--family)
		COMPREPLY=($(compgen -W '4 6 both' -- "$cur"))
		return
		;;
	--interface)
		COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
		return
		;;
	esac
	if [[ $cur == --* ]]; then
		COMPREPLY=($(compgen -W "$_knockssh_modes $_knockssh_options" -- "$cur"))
		return
	fi
	# ssh's own completion, where bash-completion has one, then the hosts
	# of the knock stanzas.
	local loaded=
	if declare -F _comp_cmd_ssh >/dev/null || declare -F _ssh >/dev/null; then
		loaded=1
	elif declare -F _comp_load >/dev/null; then
		_comp_load ssh 2>/dev/null && loaded=1
	elif declare -F _completion_loader >/dev/null; then
		_completion_loader ssh 2>/dev/null
		loaded=1
	fi
	COMPREPLY=()
	if [ -n "$loaded" ]; then
		if declare -F _comp_cmd_ssh >/dev/null; then
			_comp_cmd_ssh ssh "$cur" "$prev"
		elif declare -F _ssh >/dev/null; then
			_ssh ssh "$cur" "$prev"
		fi
	fi
	if [[ $cur != -* ]]; then
		COMPREPLY+=($(compgen -W "$(_knockssh_hosts)" -- "${cur##*@}"))
	fi
}
complete -o default -F _knockssh knockssh
