// Package cli is knockssh's command line. Its modes are one table
// (modes.go), each with the options it takes; the work is in the other
// packages: frontend for ssh, sshclient for --native, knocker for --knock,
// firewall for the server side. Library errors come back bare; the CLI
// prefixes them with "knockssh:" and prints their hints. It never prints a
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/knockssh/knockssh/internal/frontend"
	"github.com/knockssh/knockssh/internal/sshargv"
	"github.com/knockssh/knockssh/internal/stanza"
	"github.com/knockssh/knockssh/knocker"
	"github.com/knockssh/knockssh/sshclient"
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

// Main runs knockssh with args (without the program name) and returns the
// process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGHUP, syscall.SIGTERM) // ssh ends its ProxyCommand with SIGHUP
	defer stop()
	return run(ctx, args, stdin, stdout, stderr)
}

// options holds the values of every option; each mode's flag set binds
// only the options it takes.
type options struct {
	config       string
	sshConfig    string
	knockVerbose bool
	verbose      bool
	help         bool
	log          string // --proxy's --log
	progress     string // --progress: auto, always or never
	earlyBanner  string // --proxy's --early-banner: yes or no
	// settingsIface is "FILE:LINE: value 5 (index N)" when the settings
	// file chose the interface.
	settingsIface string
	// --knock's.
	port     int
	sequence string
	window   string
	protocol string
	margin   time.Duration
	retries  int
	source   string
	iface    string
	ipv4     bool
	ipv6     bool
	settings string
	// --init's and --new-sequence's.
	bursts int
	// The server side's.
	securePort int
	tag        string
	dnat       bool
	seedRules  bool
	failLimit  int
	failPeriod time.Duration
	// failPrefix6 is --fail-prefix6.
	failPrefix6 int
	format      string
	output      string
	family      string
	dryRun      bool
	// revertAfter is --install's --revert-after, the lockout guard's
	// delay; 0 for none.
	revertAfter time.Duration
	// persist is --persist: install the listener again at boot.
	persist  bool
	list     string
	count    int
	duration time.Duration
}

// stdio is a mode's standard input, output and error.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := stdio{stdin, stdout, stderr}
	o := options{config: os.Getenv("KNOCKSSH_CONFIG")}
	all := allFlags()
	found, help := scanModes(all, args)
	if len(found) > 1 {
		return usageFail(stderr, usagef("%s and %s exclude each other", modeLabel(found[0]), modeLabel(found[1])))
	}
	if len(found) == 0 {
		if help {
			io.WriteString(stdout, usageText())
			return exitOK
		}
		return wrapper(ctx, &o, all, args, s)
	}
	m := found[0]
	fs := newFlagSet(m, &o)
	if m.raw != nil {
		own, rest := leading(fs, all, args)
		if !slices.Contains(own, "--"+m.name) {
			return usageFail(stderr, usagef("give --%s first, then knockssh's options, then ssh's: %s", m.name, strings.TrimSpace(strings.SplitN(m.synopsis, "\n", 2)[0])))
		}
		if err := parse(m, fs, all, own); err != nil {
			return usageFail(stderr, err)
		}
		if o.help {
			io.WriteString(stdout, modeUsage(m))
			return exitOK
		}
		return m.raw(ctx, &o, rest, s)
	}
	if err := parse(m, fs, all, args); err != nil {
		return usageFail(stderr, err)
	}
	if o.help {
		io.WriteString(stdout, modeUsage(m))
		return exitOK
	}
	return m.run(ctx, &o, fs, s)
}

// parse parses args with m's flags; a flag m does not take is a usage
// error naming the modes that take it.
func parse(m *mode, fs, all *pflag.FlagSet, args []string) error {
	if err := checkFlags(m, fs, all, args); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return usagef("%v (see %s)", err, helpCommand(m))
	}
	return nil
}

// leading splits args into the long options that lead them (with the
// values of those that take one) and the rest; a "--" between them is
// dropped.
func leading(fs, all *pflag.FlagSet, args []string) (own, rest []string) {
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return args[:i], args[i+1:]
		}
		if !strings.HasPrefix(a, "--") {
			break
		}
		name, _, hasValue := strings.Cut(a[2:], "=")
		f := fs.Lookup(name)
		if f == nil {
			f = all.Lookup(name)
		}
		i++
		if f != nil && !hasValue && f.Value.Type() != "bool" && i < len(args) {
			i++
		}
	}
	return args[:i], args[i:]
}

// wrapper is the ssh wrapper: knockssh's long options, then ssh's
// command line.
func wrapper(ctx context.Context, o *options, all *pflag.FlagSet, args []string, s stdio) int {
	m := modes[0]
	fs := newFlagSet(m, o)
	own, rest := leading(fs, all, args)
	if err := parse(m, fs, all, own); err != nil {
		return usageFail(s.err, err)
	}
	if len(rest) == 0 {
		return usageFail(s.err, usagef("nothing to do: give a DESTINATION as to ssh, or a mode such as --knock or --proxy (see knockssh --help)"))
	}
	return wrap(ctx, o, rest, s.err)
}

// usageFail prints err, a usage error, in one line and returns exitUsage.
func usageFail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "knockssh: %v\n", err)
	return exitUsage
}

// printErr prints err and, when it carries one, its hint: the library
// packages return bare errors, and advice comes from their Hint methods.
func printErr(stderr io.Writer, err error) {
	fmt.Fprintf(stderr, "knockssh: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(stderr, "knockssh: hint: %s\n", h)
	}
}

// hint returns the advice for err: its own, from a Hint method, or the
// CLI's for the library errors whose fix is a knockssh command line.
func hint(err error) string {
	var h interface{ Hint() string }
	var unsupported *sshclient.UnsupportedError
	switch {
	case errors.As(err, &unsupported):
		return "use the system ssh: knockssh without --native"
	case errors.As(err, &h):
		return h.Hint()
	case errors.Is(err, knocker.ErrRawPermission):
		return "run as root, or setcap cap_net_raw+ep on the binary, or knock with tcp (--protocol tcp, or KnockProtocol tcp in the stanza)"
	}
	return ""
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
		printErr(stderr, err)
		return exitSSH
	}
	self, err := os.Executable()
	if err != nil {
		printErr(stderr, err)
		return exitSSH
	}
	w := frontend.Wrapper{SSH: ssh, Self: self, Config: o.config, SSHConfig: o.sshConfig, Verbose: o.knockVerbose, Warn: warner(stderr), Progress: "never"}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		w.Progress = "always"
	}
	plan, err := w.Command(ctx, args)
	if err != nil {
		printErr(stderr, err)
		return exitSSH
	}
	var status int
	if plan.Share != nil {
		waiting := func() {
			if w.Verbose {
				fmt.Fprintln(stderr, "knockssh: waiting for the shared connection another command is opening")
			}
		}
		status, err = frontend.RunShared(ctx, plan.Argv, plan.Share, waiting)
	} else {
		status, err = frontend.Exec(plan.Argv)
	}
	if err != nil {
		fmt.Fprintf(stderr, "knockssh: running %s: %v\n", plan.Argv[0], err)
	}
	return status
}

// runHasStanza is --has-stanza ALIAS: 0 when a stanza applies, 1 when
// none does or the knock configs cannot be read (ssh then treats the Match
// as false, and says nothing; knockssh's own line says why).
func runHasStanza(_ context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	if fs.NArg() != 1 {
		fmt.Fprintln(s.err, `knockssh: --has-stanza takes one ALIAS, as in Match exec "knockssh --has-stanza %n"`)
		return exitUsage
	}
	_, found, err := stanza.Lookup(fs.Arg(0), o.files(), warner(s.err))
	if err != nil {
		printErr(s.err, err)
		return exitFail
	}
	if !found {
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

func knockOnly(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	stderr := s.err
	var cfg knocker.Config
	var err error
	settings := o.settings
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
		printErr(stderr, err)
		return exitUsage
	}
	var p *progress
	if cfg.Trace == nil {
		if p = newProgress(o.progress, stderr, cfg.Host); p != nil {
			cfg.Trace = p.event
		}
	}
	_, err = knocker.Knock(ctx, cfg)
	p.clear()
	if err != nil {
		if o.settingsIface != "" && errors.Is(err, knocker.ErrInterface) {
			err = &hintError{
				err:  fmt.Errorf("%s names interface %s: %w", o.settingsIface, cfg.Interface, err),
				hint: "the OpenSesamy tool numbered the devices of the machine it ran on; give 0 to let the kernel choose, or this machine's index (knockssh --interfaces)",
			}
		}
		printErr(stderr, err)
		return exitFail
	}
	return exitOK
}

// A hintError is an error with the CLI's advice for it.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }

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
