// Package cli is knockssh's command line: it parses the flags and hands the
// work to the knocker (and, for ssh, the sshwrap) package. It never prints a
// knock sequence.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/knockssh/knockssh/knocker"
	"github.com/spf13/pflag"
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
)

const usage = `Usage:
  knockssh --knock [options] DESTINATION
      Knock on DESTINATION and exit 0 when its secure port is open, so that
      "knockssh --knock host && ssh host" connects inside the window.

Options:
`

// Main runs knockssh with args (without the program name) and returns the
// process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return run(ctx, args, stdin, stdout, stderr)
}

type options struct {
	knock    bool
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
	verbose  bool
	help     bool
	version  bool
}

func flags(o *options, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("knockssh", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.BoolVar(&o.knock, "knock", false, "knock only, and exit 0 once the window is open")
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
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print the knock timeline on stderr")
	fs.BoolVar(&o.help, "help", false, "show this help")
	fs.BoolVar(&o.version, "version", false, "print the version")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := flags(&o, stderr)
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
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return exitOK
	case o.version:
		fmt.Fprintf(stdout, "knockssh %s\n", version())
		return exitOK
	case o.knock:
		return knockOnly(ctx, &o, fs, stderr)
	}
	fmt.Fprintln(stderr, "knockssh: nothing to do: use --knock DESTINATION (see --help)")
	return exitUsage
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
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "knockssh: --knock takes exactly one DESTINATION")
		return exitUsage
	}
	cfg, err := o.config(fs.Arg(0), stderr)
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

// config builds a knocker.Config from the flags for destination.
func (o *options) config(destination string, stderr io.Writer) (knocker.Config, error) {
	host := destination
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	cfg := knocker.Config{Host: host, Port: o.port, Margin: o.margin, Retries: o.retries, Interface: o.iface}
	if o.sequence == "" {
		return cfg, errors.New("no knock sequence: give --sequence")
	}
	seq, err := knocker.ParseSequence(o.sequence)
	if err != nil {
		return cfg, fmt.Errorf("--sequence: %w", err)
	}
	cfg.Sequence = seq
	if o.window != "" {
		if cfg.Window, err = parseWindow(o.window); err != nil {
			return cfg, fmt.Errorf("--window: %w", err)
		}
	}
	if cfg.Protocol, err = knocker.ParseProtocol(o.protocol); err != nil {
		return cfg, fmt.Errorf("--protocol: %w", err)
	}
	switch {
	case o.ipv4 && o.ipv6:
		return cfg, errors.New("--ipv4 and --ipv6 exclude each other")
	case o.ipv4:
		cfg.Network = "ip4"
	case o.ipv6:
		cfg.Network = "ip6"
	}
	if o.source != "" {
		if err := cfg.Source.UnmarshalText([]byte(o.source)); err != nil {
			return cfg, fmt.Errorf("--source: %w", err)
		}
	}
	if o.verbose {
		cfg.Trace = func(e knocker.Event) { fmt.Fprintf(stderr, "knockssh: %v\n", e) }
	}
	return cfg, cfg.Validate()
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
