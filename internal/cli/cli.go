// Package cli is knockssh's command line: it parses the flags and hands the
// work to the knocker (and, for ssh, the sshwrap) package. It never prints a
// knock sequence.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/knockssh/knockssh/internal/frontend"
	"github.com/knockssh/knockssh/internal/sshargv"
	"github.com/knockssh/knockssh/internal/stanza"
	"github.com/knockssh/knockssh/knocker"
)

// Version is knockssh's version, set at link time with
// -ldflags "-X github.com/knockssh/knockssh/internal/cli.Version=v1.2.3";
// when empty, the module version from the build info is used.
var Version = ""

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// exitSSH is ssh's status for a failure of its own.
	exitSSH = 255
)

const usage = `Usage:
  knockssh [--config FILE] [--knock-verbose] [ssh options] DESTINATION [COMMAND [ARG...]]
      Run ssh with the arguments as given. When a knock stanza applies to
      DESTINATION (the name as typed), ssh connects through "knockssh --proxy",
      which knocks and dials inside the window; otherwise ssh runs untouched.
      Every single-dash option is ssh's.
  knockssh --proxy [--config FILE] [-v] ALIAS HOST PORT
      For ssh's ProxyCommand: "ProxyCommand knockssh --proxy %n %h %p".
      Knocks when a stanza applies to ALIAS, connects to HOST:PORT and relays
      the connection on stdin and stdout.
  knockssh --knock [options] DESTINATION
      Knock on DESTINATION and exit 0 when its secure port is open, so that
      "knockssh --knock host && ssh host" connects inside the window.
`

// usageTail ends the usage text, after the modes' own lines.
const usageTail = `
Knock stanzas are read from ~/.ssh/knock_config, Knock* lines in the ssh
config (with "IgnoreUnknown Knock*"), and /etc/ssh/knock_config.

Options:
`

// usageText is the usage text with every registered mode's lines.
func usageText() string {
	var b strings.Builder
	b.WriteString(usage)
	for _, m := range modes {
		b.WriteString(m.usage)
	}
	return b.String() + usageTail
}

// flagUsages lists fs's flags as pflag does, without the "[=true|false]"
// pflag puts after every boolean flag (blanked, to keep the columns).
func flagUsages(fs *pflag.FlagSet) string {
	const noise = "[=true|false]"
	return strings.ReplaceAll(fs.FlagUsages(), noise, strings.Repeat(" ", len(noise)))
}

// Main runs knockssh with args (without the program name) and returns the
// process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGHUP, syscall.SIGTERM) // ssh ends its ProxyCommand with SIGHUP
	defer stop()
	return run(ctx, args, stdin, stdout, stderr)
}

type options struct {
	knock        bool
	proxy        bool
	config       string
	sshConfig    string
	knockVerbose bool
	port         int
	sequence     string
	window       string
	protocol     string
	margin       time.Duration
	retries      int
	source       string
	iface        string
	ipv4         bool
	ipv6         bool
	verbose      bool
	help         bool
	version      bool
	// Shared by the server-side modes.
	securePort int
	tag        string
	dryRun     bool
	// The registered modes: whether each was asked for, and its run
	// function.
	mode map[string]*bool
	run  map[string]func(context.Context, *options, *pflag.FlagSet, stdio) int
}

// stdio is a mode's standard input, output and error.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// A modeSpec is one of knockssh's modes besides the ssh wrapper, --knock
// and --proxy, selected by a bool flag of its name. Each lives in a file of
// its own and registers itself from init with register.
type modeSpec struct {
	name  string // the flag, without the dashes
	help  string // the flag's help line
	usage string // its lines in the usage text, indented as the others
	// setup registers the mode's own flags on fs and returns the function
	// that runs the mode once fs is parsed.
	setup func(fs *pflag.FlagSet) func(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int
	// raw, instead of setup, runs a mode whose arguments are not
	// knockssh's flags (ssh's, for --native): it gets the command line
	// unparsed.
	raw func(ctx context.Context, o *options, args []string, s stdio) int
}

// modes are the registered modes, in the order of registration.
var modes []modeSpec

// register adds a mode; it is called from init.
func register(m modeSpec) { modes = append(modes, m) }

func flags(o *options, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("knockssh", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.BoolVar(&o.knock, "knock", false, "knock only, and exit 0 once the window is open")
	fs.BoolVar(&o.proxy, "proxy", false, "act as ssh's ProxyCommand: ALIAS HOST PORT (%n %h %p)")
	fs.StringVar(&o.config, "config", o.config, "read knock stanzas from this file only (default $KNOCKSSH_CONFIG)")
	fs.StringVar(&o.sshConfig, "ssh-config", "", "the ssh config to read Knock* lines from (default ~/.ssh/config)")
	fs.BoolVar(&o.knockVerbose, "knock-verbose", false, "print the knock timeline on stderr (ssh's -v does too)")
	fs.IntVar(&o.port, "port", knocker.DefaultPort, "knock port")
	fs.StringVar(&o.sequence, "sequence", "", "knock sequence, digits 1-9 such as 1234 (visible to other users in ps: prefer a knock config)")
	fs.StringVar(&o.window, "window", "", "knock window in whole seconds, such as 3 or 3s (default 3s)")
	fs.StringVar(&o.protocol, "protocol", "udp", "knock packets: udp, tcp (SYN, no privileges) or raw (SYN crafted, needs CAP_NET_RAW)")
	fs.DurationVar(&o.margin, "margin", knocker.DefaultMargin, "how long after the last burst to connect")
	fs.IntVar(&o.retries, "retries", knocker.DefaultRetries, "attempts after the first when the connection does not get through")
	fs.StringVar(&o.source, "source", "", "local address to knock from")
	fs.StringVar(&o.iface, "interface", "", "network interface to knock by")
	fs.BoolVar(&o.ipv4, "ipv4", false, "use IPv4 only")
	fs.BoolVar(&o.ipv6, "ipv6", false, "use IPv6 only")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "with --knock or --proxy: print the knock timeline on stderr")
	fs.IntVar(&o.securePort, "secure-port", 0, "server side: the port the knock opens (default: the knock port)")
	fs.StringVar(&o.tag, "tag", "", "server side: names the rules' chains and recent list (default INPUT, as the seed's portKnockListener INPUT)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "server side: show what would change, change nothing")
	for _, m := range modes {
		o.mode[m.name] = fs.Bool(m.name, false, m.help)
	}
	for _, m := range modes {
		if m.setup != nil {
			o.run[m.name] = m.setup(fs)
		}
	}
	fs.BoolVar(&o.help, "help", false, "show this help")
	fs.BoolVar(&o.version, "version", false, "print the version")
	fs.Usage = func() {
		io.WriteString(stderr, usageText()+flagUsages(fs))
	}
	return fs
}

// wrapperFlags are the knockssh options that may come before ssh's.
var wrapperFlags = map[string]bool{"config": true, "ssh-config": true, "knock-verbose": true}

// split returns the leading knockssh long options of args and the rest,
// which belong to ssh; mode is the knockssh option that asks for a mode
// other than the ssh wrapper (--knock, --proxy, --help, --version), if any.
// A mode option may follow single-dash options ("knockssh -v --knock"), but
// not the destination: after it, every word is ssh's.
func split(fs *pflag.FlagSet, args []string) (own, rest []string, mode string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		if !strings.HasPrefix(a, "--") {
			continue // ssh's; its value, if any, ends the scan
		}
		name, _, hasValue := strings.Cut(a[2:], "=")
		f := fs.Lookup(name)
		if f != nil && !wrapperFlags[name] {
			return nil, nil, "--" + name, nil
		}
		if f != nil && !hasValue && f.Value.Type() != "bool" {
			i++ // "--config FILE": FILE is not the destination
		}
	}
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return args[:i], args[i+1:], "", nil
		}
		if !strings.HasPrefix(a, "--") {
			break
		}
		name, _, hasValue := strings.Cut(a[2:], "=")
		f := fs.Lookup(name)
		if f == nil {
			return nil, nil, "", fmt.Errorf("unknown flag: --%s", name)
		}
		i++
		if !hasValue && f.Value.Type() != "bool" {
			i++
		}
	}
	if i > len(args) {
		return nil, nil, "", fmt.Errorf("flag needs an argument: %s", args[len(args)-1])
	}
	return args[:i], args[i:], "", nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := options{config: os.Getenv("KNOCKSSH_CONFIG"), mode: map[string]*bool{}, run: map[string]func(context.Context, *options, *pflag.FlagSet, stdio) int{}}
	fs := flags(&o, stderr)
	own, rest, mode, err := split(fs, args)
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		fs.Usage()
		return exitUsage
	}
	if mode == "" {
		if err := fs.Parse(own); err != nil {
			fmt.Fprintf(stderr, "knockssh: %v\n", err)
			return exitUsage
		}
		if len(rest) == 0 {
			fmt.Fprintln(stderr, "knockssh: nothing to do: give a DESTINATION as to ssh, or --knock, --proxy (see --help)")
			return exitUsage
		}
		return wrap(ctx, &o, rest, stderr)
	}
	for _, m := range modes {
		if m.raw != nil && mode == "--"+m.name {
			return m.raw(ctx, &o, args, stdio{stdin, stdout, stderr})
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		fs.Usage()
		return exitUsage
	}
	switch {
	case o.help:
		io.WriteString(stdout, usageText()+flagUsages(fs))
		return exitOK
	case o.version:
		fmt.Fprintf(stdout, "knockssh %s\n", version())
		return exitOK
	case o.knock && o.proxy:
		fmt.Fprintln(stderr, "knockssh: --knock and --proxy exclude each other")
		return exitUsage
	case o.knock:
		return knockOnly(ctx, &o, fs, stderr)
	case o.proxy:
		return proxy(ctx, &o, fs, stdin, stdout, stderr)
	}
	for _, m := range modes {
		switch {
		case !*o.mode[m.name]:
		case m.raw != nil: // after another mode's flag: what pflag left
			return m.raw(ctx, &o, fs.Args(), stdio{stdin, stdout, stderr})
		default:
			return o.run[m.name](ctx, &o, fs, stdio{stdin, stdout, stderr})
		}
	}
	fmt.Fprintf(stderr, "knockssh: %s needs a mode such as --knock or --proxy (see --help)\n", mode)
	return exitUsage
}

// warner prints warnings on stderr.
func warner(stderr io.Writer) func(string) {
	return func(s string) { fmt.Fprintf(stderr, "knockssh: warning: %s\n", s) }
}

// tracer prints the knock timeline on stderr.
func tracer(stderr io.Writer) func(knocker.Event) {
	return func(e knocker.Event) { fmt.Fprintf(stderr, "knockssh: %v\n", e) }
}

// files returns the knock configs to read.
func (o *options) files() []stanza.File {
	return stanza.Files(o.config, o.sshConfig)
}

// stanza scans destination as ssh would and looks up the knock stanza
// that applies to its alias in o's files; found reports whether one does.
func (o *options) stanza(destination string, stderr io.Writer) (inv sshargv.Invocation, st stanza.Stanza, found bool, err error) {
	inv, err = sshargv.ScanArgs([]string{destination})
	if err != nil {
		return inv, st, false, err
	}
	st, found, err = stanza.Lookup(inv.Alias, o.files(), warner(stderr))
	return inv, st, found, err
}

// wrap runs ssh with args, through knockssh --proxy when a stanza applies.
func wrap(ctx context.Context, o *options, args []string, stderr io.Writer) int {
	ssh, err := frontend.FindSSH()
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		return exitSSH
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		return exitSSH
	}
	w := frontend.Wrapper{SSH: ssh, Self: self, Config: o.config, SSHConfig: o.sshConfig, Verbose: o.knockVerbose, Warn: warner(stderr)}
	argv, err := w.Command(ctx, args)
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		return exitSSH
	}
	status, err := frontend.Exec(argv)
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: running %s: %v\n", argv[0], err)
	}
	return status
}

// proxy is --proxy ALIAS HOST PORT (or HOST PORT).
func proxy(ctx context.Context, o *options, fs *pflag.FlagSet, stdin io.Reader, stdout, stderr io.Writer) int {
	a := fs.Args()
	if len(a) == 2 {
		a = []string{a[0], a[0], a[1]}
	}
	if len(a) != 3 {
		io.WriteString(stderr, "knockssh: --proxy takes ALIAS HOST PORT, as in \"ProxyCommand knockssh --proxy %n %h %p\"\n")
		return exitUsage
	}
	var trace func(knocker.Event)
	if o.verbose || o.knockVerbose {
		trace = tracer(stderr)
	}
	conn, err := frontend.DialAlias(ctx, a[0], a[1], a[2], o.files(), warner(stderr), trace)
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		return exitFail
	}
	if err := frontend.Relay(conn, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "knockssh: relay: %v\n", err)
		return exitFail
	}
	return exitOK
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func knockOnly(ctx context.Context, o *options, fs *pflag.FlagSet, stderr io.Writer) int {
	var cfg knocker.Config
	var err error
	settings := settingsFlag(fs)
	switch {
	case settings != "" && fs.NArg() != 0:
		fmt.Fprintln(stderr, "knockssh: --knock --settings FILE takes no other argument")
		return exitUsage
	case settings != "" || fs.NArg() == 0:
		cfg, err = o.settingsConfig(fs, settings, stderr)
	case fs.NArg() == 1:
		cfg, err = o.knockConfig(ctx, fs, fs.Arg(0), stderr)
	case fs.NArg() == 4:
		cfg, err = o.positionalConfig(fs, fs.Args(), stderr)
	default:
		fmt.Fprintln(stderr, "knockssh: --knock takes exactly one DESTINATION, or SERVER PORT SEQUENCE WINDOW-MS as the seed's PortKnocker, or nothing to read ./knocksettings.txt (or --settings FILE)")
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		return exitUsage
	}
	if _, err := knocker.Knock(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "knockssh: %v\n", err)
		return exitFail
	}
	return exitOK
}

// knockConfig builds the knocker.Config for destination: the stanza that
// applies to it, if any, with the flags given on the command line on top.
// The address knocked is the stanza's KnockAddress, else the HostName ssh
// would connect to (ssh -G), else the destination itself.
func (o *options) knockConfig(ctx context.Context, fs *pflag.FlagSet, destination string, stderr io.Writer) (knocker.Config, error) {
	inv, st, found, err := o.stanza(destination, stderr)
	if err != nil {
		return knocker.Config{}, err
	}
	cfg := st.Config
	cfg.Host = st.Address
	if cfg.Host == "" {
		cfg.Host = hostName(ctx, inv)
	}
	if !found && !fs.Changed("sequence") {
		return cfg, fmt.Errorf("no knock sequence for %s: give --sequence, or add a stanza with KnockSequence to ~/.ssh/knock_config", inv.Alias)
	}
	return o.applyFlags(cfg, found, fs, stderr)
}

// hostName returns the HostName ssh would connect to for inv's
// destination: the destination itself when it is an IP address or ssh
// cannot tell.
func hostName(ctx context.Context, inv sshargv.Invocation) string {
	if a, err := netip.ParseAddr(strings.Trim(inv.Alias, "[]")); err == nil {
		return a.String()
	}
	ssh, err := frontend.FindSSH()
	if err != nil {
		return inv.Alias
	}
	r, err := frontend.Resolve(ctx, ssh, inv)
	if err != nil || r.HostName == "" {
		return inv.Alias
	}
	return r.HostName
}

// parseWindow accepts whole seconds ("3") or a duration ("3s", "3000ms").
func parseWindow(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither whole seconds nor a duration like 3s", s)
	}
	return d, nil
}
