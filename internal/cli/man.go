package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/knockssh/knockssh/internal/stanza"
)

// The manual pages come from the tables --help uses: knockssh(1) from
// modes and optionTable, knock_config(5) from the stanza keywords. A test
// keeps doc/knockssh.1 and doc/knock_config.5 equal to what these return
// (go test ./internal/cli -run TestManPages -update rewrites them).

// roff escapes s for running text: backslashes, dashes, and a leading
// period or quote, which roff would take for a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	s = strings.NewReplacer("–", `\(en`, "—", `\(em`, "…", "...", "×", `\(mu`).Replace(s)
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			b.WriteString(`\&`)
		}
		b.WriteString(line)
	}
	return b.String()
}

// synopsisParts splits a mode's synopsis into its command lines and its
// description, joined into one paragraph.
func synopsisParts(syn string) (commands []string, text string) {
	var words []string
	for _, line := range strings.Split(strings.TrimRight(syn, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "  knockssh"):
			commands = append(commands, strings.TrimSpace(line))
		default:
			words = append(words, strings.TrimSpace(line))
		}
	}
	return commands, strings.Join(words, " ")
}

// manOption writes one option as a tagged paragraph.
func manOption(b *strings.Builder, f *pflag.Flag, extra string) {
	name, usage := pflag.UnquoteUsage(f)
	if f.Value.Type() == "bool" {
		name = ""
	}
	b.WriteString(".TP\n")
	tag := `\fB\-\-` + roff(f.Name) + `\fR`
	if f.Shorthand != "" {
		tag = `\fB\-` + f.Shorthand + `\fR, ` + tag
	}
	if name != "" {
		tag += ` \fI` + roff(name) + `\fR`
	}
	b.WriteString(tag + "\n")
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && !strings.Contains(usage, "(default") {
		usage += fmt.Sprintf(" (default %s)", f.DefValue)
	}
	b.WriteString(roff(usage+extra) + "\n")
}

// manPage returns knockssh(1) in roff.
func manPage() string {
	var b strings.Builder
	b.WriteString(`.TH KNOCKSSH 1 "" knockssh "User Commands"
.nh
.ad l
.SH NAME
knockssh \- ssh to a host behind an Open Sesamy port\-knocking firewall
.SH SYNOPSIS
`)
	for _, m := range modes {
		cmds, _ := synopsisParts(m.synopsis)
		for _, c := range cmds {
			b.WriteString(`\fB` + roff(c) + "\\fR\n.br\n")
		}
	}
	b.WriteString(`.SH DESCRIPTION
` + roff(`knockssh knocks, then dials: it sends the knock sequence of an Open Sesamy server (bursts of UDP datagrams or TCP SYNs to one knock port, one window apart) and connects inside the window the server's iptables rules then open. As a drop-in front end for ssh ("knockssh host"), as ssh's ProxyCommand, as the ssh program of scp, rsync, sftp, git and ansible, or with its own ssh client (--native), it knocks only when a knock stanza applies to the destination (see knock_config(5)) and otherwise runs ssh untouched. On the server it prints, installs, removes and diagnoses the firewall rules.`) + `
.PP
` + roff(`Every single-dash option before the destination is ssh's; knockssh's own options are long options. Each mode takes the options listed with it below; another mode's option is a usage error.`) + `
.SH MODES
`)
	for _, m := range modes {
		cmds, text := synopsisParts(m.synopsis)
		b.WriteString(".TP\n")
		for i, c := range cmds {
			if i > 0 {
				b.WriteString(".TQ\n")
			}
			b.WriteString(`\fB` + roff(c) + "\\fR\n")
		}
		b.WriteString(roff(text))
		if len(m.flags) > 0 {
			b.WriteString(roff(" Options: --" + strings.Join(m.flags, ", --") + "."))
		}
		b.WriteString("\n")
	}
	b.WriteString(".TP\n\\fBknockssh\\fR [\\fIMODE\\fR] \\fB\\-\\-help\\fR\nShow the short usage, or MODE's usage and options.\n")
	b.WriteString(".SH OPTIONS\n")
	var o options
	fs := flagSet()
	addAllOptions(fs, &o)
	for _, opt := range optionTable {
		manOption(&b, fs.Lookup(opt.name), ". Taken by "+owners(opt.name)+".")
	}
	b.WriteString(`.SH ENVIRONMENT
.TP
.B KNOCKSSH_CONFIG
` + roff(`The knock config to read instead of the default files, as --config.`) + `
.TP
.B KNOCKSSH_SSH
` + roff(`The ssh program to run (default: ssh on $PATH).`) + `
.TP
.B KNOCKSSH_RUN_DIR
` + roff(`The run directory of --install, --uninstall, --confirm and --revert instead of /run/knockssh (or /run/knockssh/net-INODE).`) + `
.TP
.B KNOCKSSH_PERSIST_ROOT
` + roff(`For tests: a directory that --install --persist and --uninstall --persist look and write below instead of /.`) + `
.SH FILES
.TP
.I ~/.ssh/knock_config
` + roff(`The user's knock stanzas; it holds secrets: refused unless it, where its symlinks lead, and each directory up to the home directory are the user's or root's and writable by no one else, and, if it is the user's, readable by no one else (see knock_config(5)).`) + `
.TP
.I ~/.ssh/config
` + roff(`Knock* lines here count when the file has "IgnoreUnknown Knock*".`) + `
.TP
.I /etc/ssh/knock_config
` + roff(`The system's knock stanzas, read last.`) + `
.TP
.I ./knocksettings.txt
` + roff(`The settings file of the seed's PortKnocker and OpenSesamy tool, read by --knock without arguments.`) + `
.TP
.I /run/knockssh/pending-TAG
` + roff(`An install of tag TAG made with --revert-after, pending until confirmed or reverted: the rules as they were before it, which encode the sequence. Root's, mode 0600, in a directory of mode 0700; refused otherwise. pending-TAG.lock orders --install, --uninstall, --confirm, --revert and the reverter. In a network namespace other than the initial one (its firewall is its own) the directory is /run/knockssh/net-INODE, INODE being the namespace's.`) + `
.TP
.I /etc/knockssh/TAG.conf
` + roff(`The knock stanza (the sequence) of the listener of tag TAG that --install --persist installs again at boot. Root's, mode 0600, in a directory of mode 0700. While a boot hook of the tag exists, --install and --uninstall without --persist refuse: the boot would bring back the hook's rules.`) + `
.TP
.I /usr/share/netfilter-persistent/plugins.d/35-knockssh-TAG
` + roff(`The netfilter-persistent plugin of --install --persist, where netfilter-persistent is installed: its start runs the install again, after the saved rules have loaded.`) + `
.TP
.I /etc/systemd/system/knockssh-TAG.service
` + roff(`The systemd unit of --install --persist, where systemd is the init and netfilter-persistent is not installed.`) + `
.SH EXIT STATUS
` + roff(`The ssh wrapper and --native exit with the remote command's status, and 255 when the connection fails, as ssh does. Other modes exit 0 on success and 1 on failure. A command line knockssh cannot take (an unknown option, another mode's option, two modes) exits 2 with one line on stderr.`) + `
.SH EXAMPLES
.nf
knockssh homeserver
knockssh \-\-init homeserver
ssh \-o 'ProxyCommand knockssh \-\-proxy %n %h %p' homeserver
scp \-S knockssh file homeserver:
rsync \-e knockssh \-a dir/ homeserver:dir/
GIT_SSH_COMMAND=knockssh git pull
knockssh \-\-knock homeserver && ssh homeserver
knockssh \-\-native homeserver uptime
sudo knockssh \-\-install \-\-dry\-run homeserver
.fi
.SH SECURITY
` + roff(`A knock hides sshd from scanners and from attacks on it before authentication; it is not authentication. Anyone who sees the knocks (or shares the client's source address behind a NAT) can replay them, and the seed's rules give an attacker one try per source address every few windows. Keep ssh keys as the real protection. The sequence never appears in knockssh's messages; --sequence on a command line is visible to other users, so prefer a knock config. The rules --rules and --init print encode the sequence: keep them secret.`) + `
.SH SEE ALSO
.BR knock_config (5),
.BR ssh (1),
.BR ssh_config (5),
.BR iptables (8),
.BR iptables\-extensions (8)
`)
	return b.String()
}

// knockConfigPage returns knock_config(5) in roff.
func knockConfigPage() string {
	var b strings.Builder
	b.WriteString(`.TH KNOCK_CONFIG 5 "" knockssh "File Formats"
.nh
.ad l
.SH NAME
knock_config \- knockssh's knock stanzas
.SH SYNOPSIS
.I ~/.ssh/knock_config
.br
.I /etc/ssh/knock_config
.br
Knock* lines in
.I ~/.ssh/config
.SH DESCRIPTION
` + roff(`A knock stanza tells knockssh how to knock before connecting to a host. The syntax is ssh_config(5)'s: Host patterns with *, ? and !negation match the name as typed, keywords are case-insensitive, the first value found for a keyword wins, and Include works as in ssh. In a knock config only Host, Include and Knock* lines are allowed, so that a typo is an error rather than a silent "no knock"; Match is refused. In the ssh config, Knock* lines count when the file has "IgnoreUnknown Knock*"; its Match blocks are skipped.`) + `
.PP
` + roff(`Files are read in this order: ~/.ssh/knock_config; the Knock* lines of the ssh config (~/.ssh/config, or ssh's -F file); /etc/ssh/knock_config. knockssh --config FILE, or $KNOCKSSH_CONFIG, reads that file only.`) + `
.SH KEYWORDS
`)
	for _, kw := range stanza.Keywords() {
		b.WriteString(".TP\n.B " + kw.Name + "\n" + roff(strings.ReplaceAll(kw.Meaning, "`", "")+"; default: "+kw.Default+".") + "\n")
	}
	b.WriteString(`.SH SECURITY
` + roff(`The file holds the secret, and can send it elsewhere (KnockAddress). As OpenSSH's safe_path checks authorized_keys, knockssh refuses a knock config, a file it includes, a settings file (--settings), or an ssh config whose Knock* values are used, unless the file, where its symlinks lead, and each directory from it up to the user's home directory (for a file in it; else up to /) are owned by the user or root and writable by neither group nor others. Unlike safe_path, a sticky directory such as /tmp is accepted: only an entry's owner may replace it there. A file that holds the KnockSequence and is the user's must also not be readable by group or others (chmod 600), as ssh insists for private keys; one of root's that others may read gets a warning. Each refusal is one line naming the file, and the directory at fault, with a hint. A malformed line is reported as file:line: Keyword: what was expected, never with the secret.`) + `
.PP
` + roff(`A KnockSequence in a Host block whose patterns hold a wildcard (Host home*, Host * !gw), or before the first Host line, is refused unless the stanza has a KnockAddress: otherwise the secret would go to whatever the name typed resolves to, a typo's or a forged DNS answer's address included. Add KnockAddress with the server's address, or name the hosts in full (Host homeserver home); negated patterns beside full names are fine, and so is a file included from a block that names its host in full.`) + `
.SH EXAMPLE
.nf
Host homeserver
    HostName home.example.org
    KnockSequence 3817
    KnockPort 443
    KnockWindow 3
.fi
.SH SEE ALSO
.BR knockssh (1),
.BR ssh_config (5)
`)
	return b.String()
}
