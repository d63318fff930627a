package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/knocker"
)

// A mode is one of the things knockssh does, chosen by the flag of its
// name. The table below lists them in the order --help shows them: what
// users do first comes first.
type mode struct {
	name     string   // the flag, without the dashes; "" for the ssh wrapper
	help     string   // the mode flag's line in the list of modes
	synopsis string   // its lines in the usage text
	flags    []string // the options it takes, by name, in optionTable
	// run runs the mode once its flags are parsed.
	run func(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int
	// raw, instead of run, is for --native, whose arguments after
	// knockssh's own leading options are ssh's: pflag parses only those
	// options, and raw gets the rest.
	raw func(ctx context.Context, o *options, args []string, s stdio) int
}

// Option groups that several modes share.
var (
	knockOpts  = []string{"config", "ssh-config", "port", "sequence", "window", "protocol", "margin", "retries", "source", "interface", "ipv4", "ipv6", "verbose", "knock-verbose"}
	serverOpts = []string{"config", "ssh-config", "port", "secure-port", "window", "sequence", "tag", "dnat", "seed-rules", "fail-limit", "fail-period", "fail-prefix6"}
)

// modes are knockssh's modes, in the order of --help.
var modes = []*mode{
	{
		name: "",
		synopsis: `  knockssh [--config FILE] [--ssh-config FILE] [--knock-verbose] [ssh options] DESTINATION [COMMAND [ARG...]]
      Run ssh with the arguments as given. When a knock stanza applies to
      DESTINATION (the name as typed), ssh connects through "knockssh --proxy",
      which knocks and dials inside the window; otherwise ssh runs untouched.
      Every single-dash option is ssh's.
`,
		flags: []string{"config", "ssh-config", "knock-verbose"},
	},
	{
		name: "proxy",
		help: "act as ssh's ProxyCommand: ALIAS HOST PORT (%n %h %p)",
		synopsis: `  knockssh --proxy [--config FILE] [-v] ALIAS HOST PORT
      For ssh's ProxyCommand: "ProxyCommand knockssh --proxy %n %h %p".
      Knocks when a stanza applies to ALIAS, connects to HOST:PORT and relays
      the connection on stdin and stdout. It gives ssh the server's
      identification string learned from an earlier connection before
      knocking, so that ssh's ConnectTimeout does not run out during the
      knock, and stops a connection whose server then sends another one,
      learning that for the next.
`,
		flags: []string{"config", "ssh-config", "verbose", "knock-verbose", "log", "progress", "early-banner"},
		run:   proxy,
	},
	{
		name: "has-stanza",
		help: "exit 0 when a knock stanza applies to ALIAS, 1 when none does: for ssh's Match exec",
		synopsis: `  knockssh --has-stanza [--config FILE] [--ssh-config FILE] ALIAS
      Exit 0 when a knock stanza applies to ALIAS, else 1, printing
      nothing (but warnings and errors), so that an ssh config can send only
      hosts with a stanza through knockssh and leave the others to ssh:
      "Match exec "knockssh --has-stanza %n"" then the ProxyCommand line.
`,
		flags: []string{"config", "ssh-config"},
		run:   runHasStanza,
	},
	{
		name: "native",
		help: "connect with the built-in ssh client, no ssh program needed: ssh options, DESTINATION [COMMAND]",
		synopsis: `  knockssh --native [--config FILE] [--knock-verbose] [ssh options] DESTINATION [COMMAND [ARG...]]
      Connect with knockssh's own ssh client (no OpenSSH needed), knocking
      when a stanza applies. It reads the ssh config as ssh does and
      supports ` + nativeOptions + `; other ssh
      options are refused.
`,
		flags: []string{"config", "knock-verbose"},
		raw:   native,
	},
	{
		name: "knock",
		help: "knock only, and exit 0 once the window is open",
		synopsis: `  knockssh --knock [options] DESTINATION
      Knock on DESTINATION and exit 0 when its secure port is open, so that
      "knockssh --knock host && ssh host" connects inside the window.
  knockssh --knock [options] SERVER PORT SEQUENCE WINDOW-MS
  knockssh --knock [--settings FILE] [options]
      The seed's PortKnocker: knock with the values given (the window in
      milliseconds, such as 3000; the sequence is then visible in ps), or
      read them from FILE or ./knocksettings.txt: server, port, sequence and
      window, one a line or on one line, and in the OpenSesamy tool's file
      an interface index (0 for none) and a MAC address, not needed.
`,
		flags: append(knockOpts[:len(knockOpts):len(knockOpts)], "settings", "progress"),
		run:   knockOnly,
	},
	{
		name: "check",
		help: "diagnose DESTINATION (its stanza, knock time, ConnectTimeout, OpenSSH, permissions, route), sending nothing",
		synopsis: `  knockssh --check [--config FILE] [--ssh-config FILE] [ssh options] DESTINATION
      Diagnose "it doesn't work", one fact a line: the knock stanza that
      applies (file:line), the knock's time with and without retries, ssh's
      ConnectTimeout and whether it leaves the knock room, the OpenSSH
      release and the CVE-2023-51385 guard, the knock configs' and the lock
      directory's permissions, the knock address and the interface knocks
      leave by. ssh options (-F, -o ConnectTimeout=10, ...) are read as
      the wrapper reads them. Sends no knock and opens no connection; never
      shows the sequence. Exits 1, with a line for each, when something
      found would stop a connection.
`,
		flags: []string{"config", "ssh-config"},
		raw:   runCheck,
	},
	{
		name: "init",
		help: "append a stanza with a new random sequence for DESTINATION to the knock config, and print the server's rules",
		synopsis: `  knockssh --init [--bursts N] [--port P] [--window W] [--protocol PROTO] [--config FILE] DESTINATION
      Append "Host DESTINATION" with a new random KnockSequence, KnockPort
      and KnockWindow to the knock config (--config, else
      ~/.ssh/knock_config, created with mode 0600), refusing when a stanza
      there already applies to DESTINATION, and print the matching server
      rules (as --rules does) for the server's "knockssh --install".
`,
		flags: []string{"config", "bursts", "port", "secure-port", "window", "protocol", "tag", "sequence", "output", "seed-rules", "fail-limit", "fail-period", "fail-prefix6"},
		run:   runInit,
	},
	{
		name: "new-sequence",
		help: "print a random knock sequence (crypto/rand) of --bursts bursts",
		synopsis: `  knockssh --new-sequence [--bursts N]
      Print a random sequence of N bursts (default 7, 1 to 16) of 1 to 9
      knocks each, the digits uniform, from the system's secure random
      source. Its knocks add up to at most 127, as the rules need. Seven
      bursts, because with the hardened rules' default fail limit (5 a day
      per source) 10,000 attacker sources need 48 days on average to find
      them (six: 5 days) and 100 sources 13 years.
`,
		flags: []string{"bursts", "output"},
		run:   runNewSequence,
	},
	{
		name: "rules",
		help: "server side: print the firewall rules for DESTINATION's knock stanza or the flags",
		synopsis: `  knockssh --rules [--format restore|shell] [--family 4|6|both] [--dnat] [DESTINATION]
      Print the server's Open Sesamy rules (the seed's portKnockListener,
      any number of bursts, hardened: only the true sequence opens, and a
      source with --fail-limit failed patterns within --fail-period is
      dropped; --seed-rules for the seed's rules verbatim) for
      DESTINATION's knock stanza, or for --port, --secure-port, --window,
      --sequence and --tag; flags override the stanza. The output encodes
      the sequence: keep it secret; --output FILE writes it with mode 0600.
      Its comments give the brute-force figures of the rules.
`,
		flags: append(serverOpts[:len(serverOpts):len(serverOpts)], "format", "family", "interface", "output"),
		run:   runRules,
	},
	{
		name: "install",
		help: "server side (root): load the rules into this machine's firewall, idempotently",
		synopsis: `  knockssh --install [--dry-run] [--revert-after D] [--persist] [--family 4|6|both] [--dnat] [DESTINATION]
      As root on the server: load the rules --rules prints (with its
      options but --format), one atomic iptables-restore transaction per
      family, touching only the listener's chains and the jump to them;
      established sessions stay open. It refuses (before and after loading,
      rolling back) when the secure port would still take new connections
      from anywhere without a knock: an earlier ACCEPT for it, or INPUT's
      policy ACCEPT with nothing dropping it; it warns about ACCEPTs for
      some sources only, the other iptables backend and native nftables
      input chains.
      --dry-run shows the transaction and the difference, changing nothing.
      --revert-after D (such as 5m) guards against locking yourself out,
      as iptables-apply does: the install reverts itself after D unless
      "knockssh --confirm" runs in a new session that came in through the
      knock. While it is pending (a file in $KNOCKSSH_RUN_DIR, default
      /run/knockssh), --install and --uninstall of its tag refuse.
      --persist installs the listener again at every boot, after the
      distribution's own rules: a netfilter-persistent plugin (package
      iptables-persistent) or else a systemd unit runs this install, with
      the sequence in /etc/knockssh/TAG.conf (mode 0600), never on its
      command line; with neither, it refuses and changes nothing, as it
      does when someone other than root may change the knockssh it would
      run. With --revert-after, they are written once the install is
      confirmed. Once persisted, --install and --uninstall of the tag
      refuse without --persist.
`,
		flags: append(serverOpts[:len(serverOpts):len(serverOpts)], "family", "interface", "dry-run", "revert-after", "persist"),
		run: func(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
			return runInstall(ctx, o, fs, s, false)
		},
	},
	{
		name: "uninstall",
		help: "server side (root): remove the rules --install loaded",
		synopsis: `  knockssh --uninstall [--dry-run] [--persist] [--tag TAG] [DESTINATION]
      Remove them again. The flags of --install are accepted, so that its
      command line works with --uninstall; only --tag (or DESTINATION's
      stanza) and --family matter. Says so when the secure port is then
      closed to everyone (a DROP policy, and nothing else accepting it).
      --persist removes the boot hook and the config of --install --persist
      too. --revert-after guards installs only: an uninstall is at once.
`,
		flags: append(serverOpts[:len(serverOpts):len(serverOpts)], "family", "interface", "dry-run", "revert-after", "persist"),
		run: func(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
			return runInstall(ctx, o, fs, s, true)
		},
	},
	{
		name: "confirm",
		help: "server side (root): keep an install made with --revert-after, from a session that came in through the knock",
		synopsis: `  knockssh --confirm [--tag TAG] [DESTINATION]
      As root on the server, in a new session that came in through the
      knock: keep the rules of an install made with --revert-after, and stop
      its reverter. Refused unless the listener's accept rule has counted a
      connection since the install (iptables-save -c), which shows that the
      knock lets you in. The flags of --install but --dry-run are accepted;
      only --tag matters.
`,
		flags: append(serverOpts[:len(serverOpts):len(serverOpts)], "family", "interface", "revert-after", "persist"),
		run:   runConfirm,
	},
	{
		name: "revert",
		help: "server side (root): revert an install made with --revert-after now",
		synopsis: `  knockssh --revert [--tag TAG] [DESTINATION]
      Revert an install made with --revert-after now, as its deadline would:
      the listener's rules go back to what they were before it; rules others
      added meanwhile stay. The flags of --install but --dry-run are
      accepted; only --tag matters.
`,
		flags: append(serverOpts[:len(serverOpts):len(serverOpts)], "family", "interface", "revert-after", "persist"),
		run:   runRevert,
	},
	{
		name: "server-status",
		help: "server side: show the knocks the kernel's recent list remembers, per source, decoded into bursts",
		synopsis: `  knockssh --server-status [--list NAME] [--tag TAG] [DESTINATION]
      On the server: read /proc/net/xt_recent/knocks_TAG and show, per
      source address, its hits grouped into bursts with their ages, and, for
      DESTINATION's stanza or --sequence and --window, how far the knock got
      and whether the rules will open. Run it as root: a list others can
      read (xt_recent's ip_list_perms, 0644 by default) gives the sequence
      away, and --install says how to close it.
`,
		flags: append(serverOpts[:len(serverOpts):len(serverOpts)], "list", "verbose"),
		run:   runStatus,
	},
	{
		name: "watch",
		help: "server side (root): capture knocks on the knock port and show, per source, the bursts and whether the rules will open",
		synopsis: `  knockssh --watch [--interface IF] [--count N] [--duration D] [DESTINATION]
      On the server, as root: capture the packets to the knock port (and
      connections to the secure port) and print a line per burst, per
      source: its knocks, its timing, and, for DESTINATION's stanza or
      --sequence and --window, how far the knock got and whether the rules
      will open. Runs until Ctrl-C, N bursts or D.
`,
		flags: append(serverOpts[:len(serverOpts):len(serverOpts)], "interface", "count", "duration", "verbose"),
		run:   runWatch,
	},
	{
		name: "interfaces",
		help: "list the network interfaces: index, name, up or down, MAC and addresses",
		synopsis: `  knockssh --interfaces
      List the network interfaces with the index a settings file's fifth
      value names (the OpenSesamy tool's Info button), for --interface.
`,
		run: runInterfaces,
	},
	{
		name: "version",
		help: "print the version",
		synopsis: `  knockssh --version
      Print knockssh's version.
`,
		run: runVersion,
	},
}

// An option is one of knockssh's flags besides the modes'.
type option struct {
	name string
	add  func(fs *pflag.FlagSet, o *options)
}

// optionTable holds every option once, in the order the help lists them.
var optionTable = []option{
	{"config", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.config, "config", o.config, "read knock stanzas from `FILE` only (default $KNOCKSSH_CONFIG)")
	}},
	{"ssh-config", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.sshConfig, "ssh-config", "", "the ssh config `FILE` to read Knock* lines from (default ~/.ssh/config)")
	}},
	{"knock-verbose", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVar(&o.knockVerbose, "knock-verbose", false, "print the knock timeline on stderr (ssh's -v does too)")
	}},
	{"verbose", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVarP(&o.verbose, "verbose", "v", false, "print the knock timeline (or, server side, more detail) on stderr")
	}},
	{"port", func(fs *pflag.FlagSet, o *options) {
		fs.IntVar(&o.port, "port", knocker.DefaultPort, "the knock `PORT`")
	}},
	{"sequence", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.sequence, "sequence", "", "the knock sequence, `DIGITS` 1-9 such as 1234 (visible to other users in ps: prefer a knock config)")
	}},
	{"window", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.window, "window", "", "the knock window in whole `SECONDS`, such as 3 or 3s (default 3s)")
	}},
	{"protocol", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.protocol, "protocol", "udp", "the knock packets, `PROTO`: udp, tcp (SYN, no privileges) or raw (SYN crafted, needs CAP_NET_RAW)")
	}},
	{"margin", func(fs *pflag.FlagSet, o *options) {
		fs.DurationVar(&o.margin, "margin", knocker.DefaultMargin, "how long after the last burst to connect (a `DURATION` such as 50ms)")
	}},
	{"retries", func(fs *pflag.FlagSet, o *options) {
		fs.IntVar(&o.retries, "retries", knocker.DefaultRetries, "`N` attempts after the first when the connection does not get through")
	}},
	{"source", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.source, "source", "", "the local `ADDRESS` to knock from")
	}},
	{"interface", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.iface, "interface", "", "the network interface `NAME` to knock by (server side: the one the rules and the capture use)")
	}},
	{"ipv4", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVar(&o.ipv4, "ipv4", false, "use IPv4 only")
	}},
	{"ipv6", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVar(&o.ipv6, "ipv6", false, "use IPv6 only")
	}},
	{"log", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.log, "log", "", "also write messages to this existing `FILE` (the wrapper's, since ssh sends a ProxyCommand's stderr to /dev/null with ControlPersist)")
	}},
	{"progress", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.progress, "progress", "auto", "show the knock's progress on one stderr line: auto (on a terminal), always or never (`WHEN`)")
	}},
	{"early-banner", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.earlyBanner, "early-banner", "yes", "give ssh the server's identification string learned from an earlier connection before knocking, so that ssh's ConnectTimeout need not outlast the knock: `yes|no` (the wrapper, which gives ConnectTimeout the knock's time, says no; KnockEarlyBanner no wins)")
	}},
	{"settings", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.settings, "settings", "", "read server, port, sequence and window (ms) from this settings `FILE` of the seed's PortKnocker/OpenSesamy (default ./"+knocker.SettingsFile+" when --knock has no argument)")
	}},
	{"bursts", func(fs *pflag.FlagSet, o *options) {
		fs.IntVar(&o.bursts, "bursts", newSequenceBursts, "the number `N` of bursts of the new sequence, 1 to 16 (7: a month and more against 10,000 sources at the default fail limit)")
	}},
	{"secure-port", func(fs *pflag.FlagSet, o *options) {
		fs.IntVar(&o.securePort, "secure-port", 0, "the `PORT` the knock opens (default: the knock port)")
	}},
	{"tag", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.tag, "tag", "", "the `TAG` that names the rules' chains and recent list (default INPUT, as the seed's portKnockListener INPUT)")
	}},
	{"dnat", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVar(&o.dnat, "dnat", false, "the knock port is DNAT'ed to --secure-port (UDP knocks only)")
	}},
	{"seed-rules", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVar(&o.seedRules, "seed-rules", false, "the seed's portKnockListener rules verbatim, for servers that run them: the first burst checked as at least d1 knocks, no fail limit")
	}},
	{"fail-limit", func(fs *pflag.FlagSet, o *options) {
		fs.IntVar(&o.failLimit, "fail-limit", firewall.DefaultFailLimit, "drop a source (an IPv4 address, an IPv6 --fail-prefix6) after `N` failed patterns within --fail-period, 1 to 255 (0: no limit)")
	}},
	{"fail-period", func(fs *pflag.FlagSet, o *options) {
		fs.DurationVar(&o.failPeriod, "fail-period", firewall.DefaultFailPeriod*time.Second, "the fail limit's `PERIOD`, whole seconds up to 49 days (1193h)")
	}},
	{"fail-prefix6", func(fs *pflag.FlagSet, o *options) {
		fs.IntVar(&o.failPrefix6, "fail-prefix6", firewall.DefaultFailPrefix6, "count IPv6 fails per prefix of `BITS` bits, 1 to 128 (a /64 is commonly one user's)")
	}},
	{"format", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.format, "format", "restore", "the output `FORMAT`: restore (an iptables-restore file) or shell (a portKnockListener function)")
	}},
	{"output", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.output, "output", "", "write to `FILE`, created with mode 0600 and replaced only when complete, instead of standard output (the output encodes the sequence)")
	}},
	{"family", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.family, "family", "both", "the address `FAMILY`: 4 (iptables), 6 (ip6tables) or both")
	}},
	{"dry-run", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVar(&o.dryRun, "dry-run", false, "show what would change, change nothing")
	}},
	{"revert-after", func(fs *pflag.FlagSet, o *options) {
		fs.DurationVar(&o.revertAfter, "revert-after", 0, "revert the install after this `DURATION` (at least 1s, such as 5m) unless confirmed with --confirm from a session that came in through the knock (0: no guard)")
	}},
	{"persist", func(fs *pflag.FlagSet, o *options) {
		fs.BoolVar(&o.persist, "persist", false, "install the listener again at every boot (a netfilter-persistent plugin, else a systemd unit; the sequence in /etc/knockssh/TAG.conf, mode 0600); with --uninstall, remove them")
	}},
	{"list", func(fs *pflag.FlagSet, o *options) {
		fs.StringVar(&o.list, "list", "", "the recent list `NAME` to read (default knocks_TAG, knocks_INPUT without --tag)")
	}},
	{"count", func(fs *pflag.FlagSet, o *options) {
		fs.IntVar(&o.count, "count", 0, "stop after `N` bursts (0: no limit)")
	}},
	{"duration", func(fs *pflag.FlagSet, o *options) {
		fs.DurationVar(&o.duration, "duration", 0, "stop after this `DURATION` (0: no limit)")
	}},
}

// flagSet returns an empty flag set that lists its flags in the order
// they are added and prints nothing: errors are printed by the caller, in
// one line.
func flagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("knockssh", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	return fs
}

// addOptions adds the options named to fs, bound to o.
func addOptions(fs *pflag.FlagSet, o *options, names []string) {
	for _, name := range names {
		optionByName(name).add(fs, o)
	}
}

// addAllOptions adds every option to fs, bound to o.
func addAllOptions(fs *pflag.FlagSet, o *options) {
	for _, opt := range optionTable {
		opt.add(fs, o)
	}
}

// addModes adds every mode's flag to fs.
func addModes(fs *pflag.FlagSet) {
	for _, m := range modes {
		if m.name != "" {
			fs.Bool(m.name, false, m.help)
		}
	}
}

// newFlagSet returns the flags of m, bound to o: its own flag, its
// options and --help.
func newFlagSet(m *mode, o *options) *pflag.FlagSet {
	fs := flagSet()
	if m.name != "" {
		fs.Bool(m.name, false, m.help)
		fs.MarkHidden(m.name)
	}
	addOptions(fs, o, m.flags)
	fs.BoolVarP(&o.help, "help", "h", false, "show this help")
	return fs
}

// optionByName returns the option of that name; the tables are checked by
// a test, so a miss is a programming error.
func optionByName(name string) option {
	for _, opt := range optionTable {
		if opt.name == name {
			return opt
		}
	}
	panic("cli: no option " + name)
}

// modeByName returns the mode of that name, or nil.
func modeByName(name string) *mode {
	for _, m := range modes {
		if m.name == name && name != "" {
			return m
		}
	}
	return nil
}

// allFlags returns a flag set with every mode and option, to tell
// whether a word names one and whether it takes a value.
func allFlags() *pflag.FlagSet {
	var o options
	fs := flagSet()
	addModes(fs)
	addAllOptions(fs, &o)
	fs.BoolVarP(&o.help, "help", "h", false, "show this help; after a mode, that mode's")
	return fs
}

// owners lists the modes that take option name, as "--knock, --rules".
func owners(name string) string {
	var ms []string
	for _, m := range modes {
		for _, f := range m.flags {
			if f == name {
				ms = append(ms, modeLabel(m))
			}
		}
	}
	return strings.Join(ms, ", ")
}

// modeLabel names m in messages.
func modeLabel(m *mode) string {
	if m.name == "" {
		return "the ssh wrapper"
	}
	return "--" + m.name
}

// helpCommand is the command line that shows m's usage.
func helpCommand(m *mode) string {
	if m.name == "" {
		return "knockssh --help"
	}
	return "knockssh --" + m.name + " --help"
}

// A usageError is a command line knockssh cannot take: it is printed in
// one line and knockssh exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error {
	return &usageError{fmt.Sprintf(format, a...)}
}

// scanModes returns the modes named by the knockssh long options that
// lead args, and whether --help (or -h first) is among them. A mode option may follow
// single-dash options ("knockssh -v --knock"), but not the destination:
// after it, every word is ssh's (or the mode's argument).
func scanModes(all *pflag.FlagSet, args []string) (found []*mode, help bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		if a == "-h" && i == 0 {
			help = true // ssh has no -h: knockssh's help, not ssh's usage
			continue
		}
		if !strings.HasPrefix(a, "--") {
			continue // ssh's, or -v; a value of ssh's ends the scan
		}
		name, _, hasValue := strings.Cut(a[2:], "=")
		if name == "help" {
			help = true
			continue
		}
		if m := modeByName(name); m != nil {
			if !slices.Contains(found, m) {
				found = append(found, m)
			}
			continue
		}
		if f := all.Lookup(name); f != nil && !hasValue && f.Value.Type() != "bool" {
			i++ // "--config FILE": FILE is not the destination
		}
	}
	return found, help
}

// checkFlags returns a usage error for the first long option in args that
// m does not take, naming the modes that do. pflag would call it unknown;
// the words after "--" and the values of m's options are not looked at.
func checkFlags(m *mode, fs, all *pflag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		if !strings.HasPrefix(a, "--") {
			if len(a) == 2 && a[0] == '-' { // -v
				f := fs.ShorthandLookup(a[1:])
				if f == nil {
					if g := all.ShorthandLookup(a[1:]); g != nil {
						return usagef("%s (--%s) does not go with %s (it goes with %s; see %s)", a, g.Name, modeLabel(m), owners(g.Name), helpCommand(m))
					}
				} else if f.Value.Type() != "bool" {
					i++
				}
			}
			continue
		}
		name, _, hasValue := strings.Cut(a[2:], "=")
		if f := fs.Lookup(name); f != nil {
			if !hasValue && f.Value.Type() != "bool" {
				i++
			}
			continue
		}
		if all.Lookup(name) == nil {
			return usagef("unknown flag: --%s (see knockssh --help)", name)
		}
		if modeByName(name) != nil {
			return usagef("%s and --%s exclude each other", modeLabel(m), name)
		}
		return usagef("--%s does not go with %s (it goes with %s; see %s)", name, modeLabel(m), owners(name), helpCommand(m))
	}
	return nil
}

// usageText is --help: short, the everyday modes first; the manual
// (manPage) has the long form.
func usageText() string {
	var b strings.Builder
	b.WriteString(`Usage:
  knockssh [--config FILE] [--knock-verbose] [ssh options] DESTINATION [COMMAND]
      ssh, knocking first when a knock stanza applies to DESTINATION
  knockssh MODE [options] [ARGUMENTS]

Modes:
`)
	ms := flagSet()
	addModes(ms)
	ms.BoolP("help", "h", false, "show this help; after a mode, that mode's usage and options")
	b.WriteString(flagUsages(ms))
	b.WriteString("\nOptions of the ssh wrapper, before ssh's:\n")
	var o options
	ws := flagSet()
	addOptions(ws, &o, modes[0].flags)
	b.WriteString(flagUsages(ws))
	b.WriteString(`
Knock stanzas are read from ~/.ssh/knock_config, Knock* lines in the ssh
config (with "IgnoreUnknown Knock*"), and /etc/ssh/knock_config.
"knockssh MODE --help" shows a mode's usage and options; knockssh(1) tells
everything, knock_config(5) the stanzas.
`)
	return b.String()
}

// modeUsage is m's synopsis and its options.
func modeUsage(m *mode) string {
	var o options
	fs := newFlagSet(m, &o)
	return "Usage:\n" + m.synopsis + "\nOptions of " + modeLabel(m) + ":\n" + flagUsages(fs)
}

// flagUsages lists fs's flags as pflag does, without the "[=true|false]"
// pflag puts after every boolean flag (blanked, to keep the columns).
func flagUsages(fs *pflag.FlagSet) string {
	const noise = "[=true|false]"
	pad := strings.Repeat(" ", len(noise))
	allBool := true
	fs.VisitAll(func(f *pflag.Flag) { allBool = allBool && (f.Value.Type() == "bool" || f.Hidden) })
	if allBool {
		pad = "" // the columns move together
	}
	return strings.ReplaceAll(fs.FlagUsages(), noise, pad)
}

// runVersion is --version.
func runVersion(_ context.Context, _ *options, fs *pflag.FlagSet, s stdio) int {
	if fs.NArg() != 0 {
		fmt.Fprintln(s.err, "knockssh: --version takes no argument")
		return exitUsage
	}
	fmt.Fprintf(s.out, "knockssh %s\n", version())
	return exitOK
}

// nativeOptions are the ssh options --native supports, as its usage lists
// them; a test checks them against the client's own table.
const nativeOptions = "-p -l -i -F -o -t -T -N -n -q -v -4 -6 -L"
