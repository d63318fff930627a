# fish completion for knockssh(1): ssh's own completion, knockssh's long
# options, and the Host names of the knock stanzas.

complete -c knockssh -w ssh

function __knockssh_hosts
    for f in ~/.ssh/config ~/.ssh/knock_config /etc/ssh/ssh_config /etc/ssh/knock_config
        test -r $f; and awk 'tolower($1) == "host" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' $f
    end
end

complete -c knockssh -f -a '(__knockssh_hosts)'

complete -c knockssh -l proxy -d 'act as ssh\'s ProxyCommand: ALIAS HOST PORT (%n %h %p)'
complete -c knockssh -l has-stanza -d 'exit 0 when a knock stanza applies to ALIAS (for Match exec)'
complete -c knockssh -l native -d 'connect with the built-in ssh client, no ssh program needed: ssh options, DESTINATION [COMMAND]'
complete -c knockssh -l knock -d 'knock only, and exit 0 once the window is open'
complete -c knockssh -l check -d 'diagnose DESTINATION: its stanza, knock time, ConnectTimeout, OpenSSH, permissions, route; sends nothing'
complete -c knockssh -l init -d 'append a stanza with a new random sequence for DESTINATION to the knock config, and print the server\'s rules'
complete -c knockssh -l new-sequence -d 'print a random knock sequence (crypto/rand) of --bursts bursts'
complete -c knockssh -l rules -d 'server side: print the firewall rules for DESTINATION\'s knock stanza or the flags'
complete -c knockssh -l install -d 'server side (root): load the rules into this machine\'s firewall, idempotently'
complete -c knockssh -l uninstall -d 'server side (root): remove the rules --install loaded'
complete -c knockssh -l confirm -d 'server side (root): keep an install made with --revert-after'
complete -c knockssh -l revert -d 'server side (root): revert an install made with --revert-after now'
complete -c knockssh -l server-status -d 'server side: show the knocks the kernel\'s recent list remembers, per source, decoded into bursts'
complete -c knockssh -l watch -d 'server side (root): capture knocks on the knock port and show, per source, the bursts and whether the rules will open'
complete -c knockssh -l interfaces -d 'list the network interfaces: index, name, up or down, MAC and addresses'
complete -c knockssh -l version -d 'print the version'
complete -c knockssh -l help -s h -d 'show the usage; after a mode, its options'
complete -c knockssh -l config -r -d 'read knock stanzas from FILE only (default $KNOCKSSH_CONFIG)'
complete -c knockssh -l ssh-config -r -d 'the ssh config FILE to read Knock* lines from (default ~/.ssh/config)'
complete -c knockssh -l knock-verbose -d 'print the knock timeline on stderr (ssh\'s -v does too)'
complete -c knockssh -l verbose -d 'print the knock timeline (or, server side, more detail) on stderr'
complete -c knockssh -l port -r -d 'the knock PORT'
complete -c knockssh -l sequence -r -d 'the knock sequence, DIGITS 1-9 such as 1234 (visible to other users in ps: prefer a knock config)'
complete -c knockssh -l window -r -d 'the knock window in whole SECONDS, such as 3 or 3s (default 3s)'
complete -c knockssh -l protocol -x -a 'udp tcp raw' -d 'the knock packets, PROTO: udp, tcp (SYN, no privileges) or raw (SYN crafted, needs CAP_NET_RAW)'
complete -c knockssh -l margin -r -d 'how long after the last burst to connect (a DURATION such as 50ms)'
complete -c knockssh -l retries -r -d 'N attempts after the first when the connection does not get through'
complete -c knockssh -l source -r -d 'the local ADDRESS to knock from'
complete -c knockssh -l interface -r -d 'the network interface NAME to knock by (server side: the one the rules and the capture use)'
complete -c knockssh -l ipv4 -d 'use IPv4 only'
complete -c knockssh -l ipv6 -d 'use IPv6 only'
complete -c knockssh -l log -r -d 'also write messages to this FILE (the wrapper uses it)'
complete -c knockssh -l progress -x -a 'auto always never' -d 'show the knock progress on one stderr line'
complete -c knockssh -l early-banner -x -a 'yes no' -d 'give ssh the identification string learned before knocking'
complete -c knockssh -l settings -r -d 'read server, port, sequence and window from this settings FILE'
complete -c knockssh -l bursts -r -d 'the number N of bursts of the new sequence, 1 to 16 (default 7)'
complete -c knockssh -l secure-port -r -d 'the PORT the knock opens (default: the knock port)'
complete -c knockssh -l tag -r -d 'the TAG that names the rules\' chains and recent list (default INPUT, as the seed\'s portKnockListener INPUT)'
complete -c knockssh -l dnat -d 'the knock port is DNAT\'ed to --secure-port (UDP knocks only)'
complete -c knockssh -l seed-rules -d 'the seed\'s rules verbatim (first burst at least d1, no fail limit)'
complete -c knockssh -l fail-limit -r -d 'drop a source after N failed patterns within --fail-period (0: no limit)'
complete -c knockssh -l fail-period -r -d 'the fail limit\'s PERIOD (default 24h)'
complete -c knockssh -l fail-prefix6 -r -d 'count IPv6 fails per prefix of BITS bits (default 64)'
complete -c knockssh -l format -x -a 'restore shell' -d 'the output FORMAT: restore (an iptables-restore file) or shell (a portKnockListener function)'
complete -c knockssh -l output -r -d 'write to FILE, created with mode 0600, instead of standard output'
complete -c knockssh -l family -x -a '4 6 both' -d 'the address FAMILY: 4 (iptables), 6 (ip6tables) or both'
complete -c knockssh -l dry-run -d 'show what would change, change nothing'
complete -c knockssh -l revert-after -x -d 'revert the install after DURATION unless confirmed'
complete -c knockssh -l list -r -d 'the recent list NAME to read (default knocks_TAG, knocks_INPUT without --tag)'
complete -c knockssh -l count -r -d 'stop after N bursts (0: no limit)'
complete -c knockssh -l duration -r -d 'stop after this DURATION (0: no limit)'
