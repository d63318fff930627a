// Package sshargv reads an ssh command line as OpenSSH's ssh does: which
// options take a value, where the destination and the remote command are,
// and which release's rules apply (-P takes a tag since OpenSSH 9.4).
package sshargv

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"

	"github.com/knockssh/knockssh/internal/sshconfig"
)

// sshOptstring is the getopt string of OpenSSH's ssh (ssh.c, main) since
// 9.4, where -P takes a tag: every letter followed by ':' takes a value.
// oldOptstring is that of earlier releases, where -P takes none (an
// obsolete flag, ignored).
const (
	sshOptstring = "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy"
	oldOptstring = "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:PQ:R:S:TVw:W:XYy"
)

// A Release is an OpenSSH release as ssh -V names it: OpenSSH_9.2p1 is
// Release{9, 2}. The zero Release stands for the latest.
type Release struct{ Major, Minor int }

// String returns the release as "9.2", or "latest" for the zero Release.
func (r Release) String() string {
	if r == (Release{}) {
		return "latest"
	}
	return fmt.Sprintf("%d.%d", r.Major, r.Minor)
}

// RefusesMetachars reports whether ssh of release r refuses a host name
// with shell metacharacters on its command line, which it would otherwise
// put as typed into a ProxyCommand's %h and %n (CVE-2023-51385): OpenSSH
// 9.6 and later. A distribution may have brought the fix to an older
// release; the release number cannot tell.
func (r Release) RefusesMetachars() bool {
	return r == Release{} || r.Major > 9 || r.Major == 9 && r.Minor >= 6
}

// tagOption reports whether ssh of release r reads -P with a value.
func (r Release) tagOption() bool {
	return r == Release{} || r.Major > 9 || r.Major == 9 && r.Minor >= 4
}

// ParseRelease reads the release from ssh -V's banner, such as
// "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024" or
// "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2".
func ParseRelease(banner string) (Release, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(banner), "OpenSSH_")
	if !ok {
		return Release{}, fmt.Errorf("%.40q is not an OpenSSH banner", banner)
	}
	rest = strings.TrimPrefix(rest, "for_Windows_")
	var r Release
	if _, err := fmt.Sscanf(rest, "%d.%d", &r.Major, &r.Minor); err != nil || r.Major < 1 || r.Minor < 0 {
		return Release{}, fmt.Errorf("no release number in %.40q", banner)
	}
	return r, nil
}

// SSHRelease runs ssh -V and returns the release of the ssh program.
func SSHRelease(ctx context.Context, ssh string) (Release, error) {
	_, r, err := SSHVersion(ctx, ssh)
	return r, err
}

// SSHVersion runs ssh -V and returns its banner, the first line it
// prints, and the release the banner names; the error is for a program
// that fails or names no OpenSSH release (the banner is returned then too).
func SSHVersion(ctx context.Context, ssh string) (banner string, r Release, err error) {
	out, err := exec.CommandContext(ctx, ssh, "-V").CombinedOutput()
	banner = firstLine(string(out))
	if err != nil {
		return banner, Release{}, fmt.Errorf("%s -V: %w", ssh, err)
	}
	r, err = ParseRelease(banner)
	return banner, r, err
}

// firstLine returns the first line of out that is not blank, trimmed.
func firstLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// Invocation is an ssh command line as OpenSSH's ssh parses it.
//
// User and Port follow ssh's rule that the first setting wins, in the order
// ssh meets them on the command line: -l, -o User and the user of the
// destination for User; -p, -o Port and the port of an ssh:// destination
// for Port. So "ssh alice@host -l bob" logs in as alice, and "ssh -l bob
// alice@host" as bob.
type Invocation struct {
	Args []string // the arguments as given (without the program name)
	Dest int      // index in Args of the destination; -1 when there is none
	// Alias is the host as ssh takes it from the destination: no user, no
	// ssh:// scheme, no :port. Only the ssh:// form has brackets stripped
	// (ssh://[192.0.2.1]:2222) and a trailing dot removed, as ssh does; a
	// plain destination is kept as typed, brackets and all, because that is
	// the name ssh matches Host patterns against.
	Alias      string
	User       string   // from -l, -o User or the destination, whichever ssh meets first; "" when none
	Port       int      // from -p, -o Port or ssh://host:port, whichever ssh meets first; 0 when not given
	ConfigFile string   // -F value (the last one, as in ssh), "" when not given
	JumpHosts  string   // -J value (ssh refuses a second -J)
	Options    []string // the -o values in order, as given
	Command    []string // the remote command and its arguments (may be empty); a sub-slice of Args
	Verbose    int      // number of -v
	// NoConnect reports -G, -V, -Q or -O: ssh prints or controls something
	// and opens no new connection of its own for a session.
	NoConnect bool
	Subsystem bool   // -s given
	Control   string // the -O command (check, exit, ...), "" when none
	// Sharing reports -S or -M: the command line sets up connection
	// sharing itself.
	Sharing bool
}

// ScanArgs parses args (without the program name) as OpenSSH's ssh does.
//
// Options come first; the first argument that is not an option is the
// destination. Like ssh, ScanArgs then parses options again after the
// destination, unless "--" came before it; the next argument that is not
// an option (or whatever follows a "--") starts the remote command, which
// runs to the end of args. ssh uses a BSD getopt, which never reorders
// arguments. ssh exits as soon as it meets -V or -Q, so ScanArgs stops
// there too and sets NoConnect.
//
// The errors are those of ssh's own parsing: an unknown option, an option
// without its value, a bad -p or -o Port value, and a destination ssh
// rejects (an empty one, "@host", "user@", or an ssh:// URI that does not
// parse: ssh refuses IPv6 addresses and paths in those). Value checks ssh
// makes while it parses other options (-1, a second -J, bad -L, -R, -D, -O,
// -Q, -e, -c, -m, -w or -W values, bad -o lines) and the host and user name
// checks it makes afterwards are left to ssh. A command line without a
// destination is not an error: Dest is -1.
//
// ScanArgs follows the latest OpenSSH, where -P takes a tag;
// ScanArgsRelease follows a given release.
func ScanArgs(args []string) (Invocation, error) {
	return ScanArgsRelease(args, Release{})
}

// ScanInstalled is ScanArgs for the ssh program at path: releases differ
// only in -P, so ssh -V is asked only when the two readings of args
// disagree; when it cannot tell, the latest reading stands.
func ScanInstalled(ctx context.Context, path string, args []string) (Invocation, error) {
	inv, err := ScanArgs(args)
	old, oldErr := ScanArgsRelease(args, Release{9, 3})
	if reflect.DeepEqual(inv, old) && (err == nil) == (oldErr == nil) {
		return inv, err
	}
	if r, rerr := SSHRelease(ctx, path); rerr == nil && !r.tagOption() {
		return old, oldErr
	}
	return inv, err
}

// EachOption calls visit with each option of args (letter and value), up
// to the first argument that is not an option, with the latest release's
// rules; an error from visit ends the scan.
func EachOption(args []string, visit func(opt byte, value string) error) error {
	g := getopt{optstring: sshOptstring, args: args}
	for {
		opt, val, done, err := g.next()
		if err != nil || done {
			return err
		}
		if err := visit(opt, val); err != nil {
			return err
		}
	}
}

// ScanArgsRelease is ScanArgs for the ssh of release r.
func ScanArgsRelease(args []string, r Release) (Invocation, error) {
	optstring := oldOptstring
	if r.tagOption() {
		optstring = sshOptstring
	}
	inv, err := scanArgs(args, optstring)
	if err != nil {
		return Invocation{Args: args, Dest: -1}, err
	}
	return inv, nil
}

func scanArgs(args []string, optstring string) (Invocation, error) {
	inv := Invocation{Args: args, Dest: -1}
	var s scanState
	g := getopt{optstring: optstring, args: args}
	// off is the index in args of getopt's av[1]: ssh's second pass hands
	// getopt the arguments from the destination on, with the destination
	// as av[0].
	off := 0
	for {
		for {
			opt, val, done, err := g.next()
			if err != nil {
				return inv, err
			}
			if done {
				break
			}
			stop, err := s.apply(&inv, opt, val)
			if err != nil {
				return inv, err
			}
			if stop {
				return inv, nil
			}
		}
		pos := g.ind
		if inv.Dest >= 0 {
			inv.Command = clip(args[pos:])
			return inv, nil
		}
		// ssh.c: if (optind > 1 && strcmp(av[optind - 1], "--") == 0).
		// This also holds when "--" was the value of an option.
		optTerminated := pos > off && args[pos-1] == "--"
		if pos >= len(args) {
			return inv, nil
		}
		if err := s.destination(&inv, pos); err != nil {
			return inv, err
		}
		if pos+1 >= len(args) || optTerminated {
			inv.Command = clip(args[pos+1:])
			return inv, nil
		}
		off = pos + 1
		g = getopt{optstring: optstring, args: args, ind: off}
	}
}

// clip returns a, or nil when it is empty, with no spare capacity.
func clip(a []string) []string {
	if len(a) == 0 {
		return nil
	}
	return slices.Clip(a)
}

// getopt is the BSD getopt(3) that OpenSSH uses (openbsd-compat), without
// argument permutation: it stops at the first non-option.
type getopt struct {
	optstring string // ssh's, for one release
	args      []string
	ind       int    // optind: index in args of the argument being scanned
	place     string // the rest of the option cluster being scanned
}

// next returns the next option letter and its value; done is true at the
// end of the options, with g.ind at the first argument after them.
func (g *getopt) next() (opt byte, val string, done bool, err error) {
	if g.place == "" {
		if g.ind >= len(g.args) {
			return 0, "", true, nil
		}
		a := g.args[g.ind]
		if a == "" || a[0] != '-' || a == "-" {
			return 0, "", true, nil // a non-option
		}
		if a == "--" {
			g.ind++
			return 0, "", true, nil
		}
		g.place = a[1:]
	}
	c := g.place[0]
	g.place = g.place[1:]
	i := strings.IndexByte(g.optstring, c)
	if c == ':' || i < 0 {
		if c == '-' && g.place == "" {
			// A cluster ending in '-', such as "-v-": BSD getopt
			// returns -1 without moving on, so ssh takes this very
			// argument as the destination (or the command).
			return 0, "", true, nil
		}
		if c == '-' {
			return 0, "", false, fmt.Errorf("unknown option '-' in %.40q", g.args[g.ind])
		}
		return 0, "", false, fmt.Errorf("unknown option %s", optName(c))
	}
	if i+1 < len(g.optstring) && g.optstring[i+1] == ':' {
		if g.place != "" {
			val = g.place
		} else {
			g.ind++
			if g.ind >= len(g.args) {
				return 0, "", false, fmt.Errorf("option %s needs a value", optName(c))
			}
			val = g.args[g.ind]
		}
		g.place = ""
		g.ind++
		return c, val, false, nil
	}
	if g.place == "" {
		g.ind++
	}
	return c, "", false, nil
}

// optName names an option letter for a message, quoting any byte that is
// not printable ASCII.
func optName(c byte) string {
	if c > ' ' && c < 0x7f {
		return "-" + string(rune(c))
	}
	return fmt.Sprintf("%q", "-"+string([]byte{c}))
}

// scanState is what ssh's options structure remembers while it parses.
type scanState struct {
	userSet, jumpSet bool
}

// apply records one option as ssh.c's getopt loop does; stop is true when
// ssh would exit there (-V, -Q).
func (s *scanState) apply(inv *Invocation, opt byte, val string) (stop bool, err error) {
	switch opt {
	case 'V', 'Q':
		inv.NoConnect = true
		return true, nil
	case 'G', 'O':
		inv.NoConnect = true
		if opt == 'O' {
			inv.Control = val
		}
	case 's':
		inv.Subsystem = true
	case 'S', 'M':
		inv.Sharing = true
	case 'v':
		inv.Verbose++
	case 'F':
		inv.ConfigFile = val
	case 'J':
		if !s.jumpSet {
			inv.JumpHosts, s.jumpSet = val, true
		}
	case 'l':
		if !s.userSet {
			inv.User, s.userSet = val, true
		}
	case 'p':
		// ssh checks the value only while no port is set.
		if inv.Port == 0 {
			p := sshconfig.Port(val)
			if p <= 0 {
				return false, fmt.Errorf("option -p: bad port %.40q, want a number from 1 to 65535 or a service name", val)
			}
			inv.Port = p
		}
	case 'o':
		inv.Options = append(inv.Options, val)
		return false, s.configLine(inv, val)
	}
	return false, nil
}

// configLine applies the User and Port settings of a -o line as ssh's
// process_config_line does: first value wins, and a bad Port is an error
// even when the port is already set.
func (s *scanState) configLine(inv *Invocation, line string) error {
	kw, rest, ok := sshconfig.SplitLine(line)
	if !ok {
		return nil
	}
	isPort, isUser := strings.EqualFold(kw, "Port"), strings.EqualFold(kw, "User")
	if !isPort && !isUser {
		return nil
	}
	words, err := sshconfig.Words(rest)
	if err != nil || len(words) != 1 || words[0] == "" {
		return nil // ssh reports such a line itself
	}
	if isUser {
		if !s.userSet {
			inv.User, s.userSet = words[0], true
		}
		return nil
	}
	p := sshconfig.Port(words[0])
	if p <= 0 {
		return fmt.Errorf("option -o Port: bad port %.40q, want a number from 1 to 65535 or a service name", words[0])
	}
	if inv.Port == 0 {
		inv.Port = p
	}
	return nil
}

// destination parses args[pos] as ssh's destination: an ssh:// URI or
// [user@]host, the user being everything before the last '@'.
func (s *scanState) destination(inv *Invocation, pos int) error {
	d := inv.Args[pos]
	var user, host string
	hasUser, port := false, -1
	if strings.HasPrefix(d, "ssh://") {
		var err error
		user, hasUser, host, port, err = parseSSHURI(d)
		if err != nil {
			return fmt.Errorf("bad destination %.40q: %w", d, err)
		}
	} else {
		if d == "" {
			return errors.New("empty destination")
		}
		host = d
		if i := strings.LastIndexByte(d, '@'); i >= 0 {
			if i == 0 {
				return fmt.Errorf("bad destination %.40q: empty user name before '@'", d)
			}
			user, hasUser, host = d[:i], true, d[i+1:]
		}
		if host == "" {
			return fmt.Errorf("bad destination %.40q: no host name after '@'", d)
		}
	}
	inv.Dest, inv.Alias = pos, host
	if hasUser && !s.userSet {
		inv.User, s.userSet = user, true
	}
	if port > 0 && inv.Port == 0 {
		inv.Port = port
	}
	return nil
}

// parseSSHURI parses ssh://[user[;params]@]host[:port][/] as misc.c's
// parse_uri and parse_ssh_uri do; port is -1 when the URI has none.
func parseSSHURI(uri string) (user string, hasUser bool, host string, port int, err error) {
	rest := strings.TrimPrefix(uri, "ssh://")
	port = -1
	// The user ends at the first '@', its connection parameters at ';'.
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		u := rest[:i]
		if j := strings.IndexByte(u, ';'); j >= 0 {
			u = u[:j]
		}
		if u == "" {
			return "", false, "", -1, errors.New("empty user name in ssh:// URI")
		}
		var ok bool
		if user, ok = urldecode(u); !ok {
			return "", false, "", -1, errors.New("bad %-escape in the user name of an ssh:// URI")
		}
		hasUser = true
		rest = rest[i+1:]
	}
	// hpdelim2: a [bracketed] host or one ending at ':' or '/'.
	hostPart, delim, tail := rest, byte(0), ""
	if strings.HasPrefix(rest, "[") {
		k := strings.IndexByte(rest, ']')
		if k < 0 {
			return "", false, "", -1, errors.New("no ']' after '[' in ssh:// URI")
		}
		if k+1 < len(rest) {
			if c := rest[k+1]; c != ':' && c != '/' {
				return "", false, "", -1, errors.New("junk after ']' in ssh:// URI")
			}
			hostPart, delim, tail = rest[:k+1], rest[k+1], rest[k+2:]
		}
	} else if k := strings.IndexAny(rest, ":/"); k >= 0 {
		hostPart, delim, tail = rest[:k], rest[k], rest[k+1:]
	}
	if hostPart == "" {
		return "", false, "", -1, errors.New("no host name in ssh:// URI")
	}
	host = hostPart
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if !validDomain(host) {
		if strings.Contains(host, ":") {
			return "", false, "", -1, errors.New("ssh takes no IPv6 address in an ssh:// URI; use user@addr and -p instead")
		}
		return "", false, "", -1, errors.New("ssh:// URI host is not a valid domain name")
	}
	host = strings.TrimSuffix(host, ".") // valid_domain drops a trailing dot
	if tail != "" {
		if delim == ':' {
			p, after, slash := strings.Cut(tail, "/")
			if port = sshconfig.Port(p); port <= 0 {
				return "", false, "", -1, errors.New("bad port in ssh:// URI")
			}
			tail = ""
			if slash {
				tail = after
			}
		}
		if tail != "" {
			return "", false, "", -1, errors.New("ssh takes no path in an ssh:// URI")
		}
	}
	return user, hasUser, host, port, nil
}

// urldecode decodes '+' and %XX as misc.c's urldecode does; as in C, the
// result ends at a decoded NUL.
func urldecode(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) {
				return "", false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b = append(b, hi<<4|lo)
			i += 2
		default:
			b = append(b, s[i])
		}
	}
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// validDomain is misc.c's valid_domain: a letter or digit first, then
// letters, digits, '.', '-' and '_', with no two dots in a row.
func validDomain(name string) bool {
	if name == "" || !isAlnum(name[0]) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '.' && i > 0 && name[i-1] == '.' {
			return false
		}
		if c != '.' && c != '-' && c != '_' && !isAlnum(c) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Option returns the value of the first -o option setting keyword (case-insensitive),
// accepting both "Key=Value" and "Key Value" (and "Key = Value") forms, as ssh does; ok is false when none sets it.
//
// The value is the rest of the -o line after the keyword and its separator,
// with white space trimmed and quotes left in place, as ssh takes it for
// ProxyCommand. A line with no value sets nothing (ssh rejects it).
func (inv Invocation) Option(keyword string) (value string, ok bool) {
	for _, line := range inv.Options {
		kw, rest, ok := sshconfig.SplitLine(line)
		if ok && strings.EqualFold(kw, keyword) {
			return rest, true
		}
	}
	return "", false
}
