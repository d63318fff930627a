package sshclient

import (
	"errors"
	"fmt"
	"github.com/knockssh/knockssh/internal/sshargv"
	"github.com/knockssh/knockssh/internal/sshconfig"
	"strconv"
	"strings"
)

// nativeUnsupported names the ssh options the native client refuses, by
// letter. Every other letter of ssh's optstring is supported.
var nativeUnsupported = map[byte]string{
	'1': "protocol 1", '2': "protocol selection",
	'A': "agent forwarding", 'B': "binding to an interface", 'C': "compression",
	'D': "dynamic forwarding", 'E': "log files", 'G': "printing the configuration",
	'I': "PKCS#11 tokens", 'J': "ProxyJump", 'K': "GSSAPI", 'M': "connection sharing",
	'O': "connection sharing", 'P': "tags", 'Q': "queries", 'R': "remote forwarding",
	'S': "connection sharing", 'V': "printing the version", 'W': "stdio forwarding",
	'X': "X11 forwarding", 'Y': "X11 forwarding", 'b': "binding to an address",
	'c': "cipher selection", 'e': "escape characters", 'f': "going to the background",
	'g': "remote hosts on forwarded ports", 'k': "GSSAPI", 'm': "MAC selection",
	's': "subsystems", 'w': "tunnel devices", 'y': "syslog",
}

// nativeArgs is an ssh command line as the native client takes it.
type nativeArgs struct {
	inv       sshargv.Invocation
	opts      Options
	tty       int      // number of -t
	noTTY     bool     // -T
	forwards  []string // -L, as [bind:]port:host:hostport
	noCommand bool     // -N
	nullStdin bool     // -n
}

// parseNativeArgs parses ssh's args (without the program name) for the
// native client: ScanArgs's rules, and an UnsupportedError for the
// options it does not implement. The destination is required.
func parseNativeArgs(args []string) (nativeArgs, error) {
	inv, err := sshargv.ScanArgs(args)
	if err != nil {
		return nativeArgs{}, err
	}
	a := nativeArgs{inv: inv}
	if inv.Dest < 0 {
		// Options only: check them, then ask for the destination.
		if err := a.options(args); err != nil {
			return nativeArgs{}, err
		}
		return nativeArgs{}, errors.New("no destination: want [options] destination [command [argument ...]]")
	}
	cmdStart := len(args) - len(inv.Command)
	if err := a.options(args[:inv.Dest]); err != nil {
		return nativeArgs{}, err
	}
	if err := a.options(args[inv.Dest+1 : cmdStart]); err != nil {
		return nativeArgs{}, err
	}
	a.opts.User, a.opts.Port, a.opts.ConfigFile = inv.User, inv.Port, inv.ConfigFile
	return a, nil
}

// options records the options in args, up to the first non-option.
func (a *nativeArgs) options(args []string) error {
	return sshargv.EachOption(args, func(opt byte, val string) error {
		if what, ok := nativeUnsupported[opt]; ok {
			return &UnsupportedError{Option: "-" + string(rune(opt)), What: what}
		}
		switch opt {
		case '4':
			a.opts.Options = append(a.opts.Options, "AddressFamily inet")
		case '6':
			a.opts.Options = append(a.opts.Options, "AddressFamily inet6")
		case 'i':
			a.opts.IdentityFiles = append(a.opts.IdentityFiles, val)
		case 'o':
			a.opts.Options = append(a.opts.Options, val)
		case 'L':
			spec, err := parseForward(val)
			if err != nil {
				return fmt.Errorf("-L %.60q: %w", val, err)
			}
			a.forwards = append(a.forwards, spec.String())
		case 't':
			a.tty++
		case 'T':
			a.noTTY = true
		case 'N':
			a.noCommand = true
		case 'n':
			a.nullStdin = true
		case 'q':
			a.opts.quiet = true
		}
		// -a, -x: nothing is forwarded anyway; -p, -l, -F, -v: in inv.
		return nil
	})
}

// A forward is a -L specification.
type forward struct {
	bind         string // when bindWasGiven: "" or "*" for every interface
	port         int
	host         string
	hostPort     int
	bindWasGiven bool
}

// String returns the forward as [bind:]port:host:hostport, with brackets
// around IPv6 addresses.
func (f forward) String() string {
	s := fmt.Sprintf("%d:%s:%d", f.port, bracket(f.host), f.hostPort)
	if f.bindWasGiven {
		s = bracket(f.bind) + ":" + s
	}
	return s
}

func bracket(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// parseForward parses [bind_address:]port:host:hostport, where addresses
// may be in brackets (IPv6) and bind_address may be empty or "*".
func parseForward(s string) (forward, error) {
	var fields []string
	for s != "" {
		var f string
		if s[0] == '[' {
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return forward{}, errors.New("no ']' after '['")
			}
			f, s = s[1:end], s[end+1:]
			if s != "" && s[0] != ':' {
				return forward{}, errors.New("junk after ']'")
			}
		} else {
			i := strings.IndexByte(s, ':')
			if i < 0 {
				i = len(s)
			}
			f, s = s[:i], s[i:]
		}
		fields = append(fields, f)
		if s != "" {
			s = s[1:]
			if s == "" {
				fields = append(fields, "")
			}
		}
	}
	var fw forward
	switch len(fields) {
	case 3:
	case 4:
		fw.bind, fw.bindWasGiven = fields[0], true
		fields = fields[1:]
	default:
		if len(fields) <= 2 {
			return forward{}, errors.New("want [bind_address:]port:host:hostport (Unix sockets are not supported)")
		}
		return forward{}, errors.New("want [bind_address:]port:host:hostport (put an IPv6 address in brackets)")
	}
	var err error
	if fw.port, err = forwardPort(fields[0]); err != nil {
		return forward{}, err
	}
	fw.host = fields[1]
	if fw.host == "" {
		return forward{}, errors.New("no host to forward to")
	}
	if fw.hostPort, err = forwardPort(fields[2]); err != nil {
		return forward{}, err
	}
	return fw, nil
}

// forwardPort parses a port of a -L specification: 1-65535 or a service.
func forwardPort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		if p := sshconfig.Port(s); p > 0 {
			return p, nil
		}
		return 0, fmt.Errorf("bad port %.20q", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %d", n)
	}
	return n, nil
}
