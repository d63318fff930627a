// Package sshwrap puts knockssh in front of ssh: it reads the per-host knock
// stanzas and relays a knocked connection for ssh's ProxyCommand.
//
// # Files
//
// Knock stanzas use ssh_config(5) syntax: Host blocks with patterns, and
// keywords that are case-insensitive and take their value after a space or
// an "=". Without --config, Lookup reads, in this order (DefaultFiles):
//
//   - ~/.ssh/knock_config, if it exists;
//   - the user's ssh config: the file given to ssh -F, which must exist
//     ("-F none" means none), else ~/.ssh/config, if it exists;
//   - /etc/ssh/knock_config, if it exists (not on Windows).
//
// With --config, only that file is read, and it must exist.
//
// A knock config (knock_config or --config) holds the secrets in a file of
// their own, which ssh never reads:
//
//	Host homeserver home.example.org
//	    KnockSequence 3141
//	    KnockPort 443
//	    KnockWindow 3
//	    KnockProtocol udp
//
// It may hold only Host, Include and Knock* lines, and it is strict, as
// ssh is with its own config: an unknown keyword (IgnoreUnknown included:
// it would hide a misspelt Knock* keyword), a Match line, or a bad value,
// even in a Host block that does not apply, is an error naming file:line.
// Errors never show a KnockSequence value, even a malformed one.
//
// The Knock* lines may instead go in the user's ssh config, after an
// "IgnoreUnknown Knock*" line so that ssh accepts them. knockssh reads only
// the Knock* lines of that file and ignores everything else, and the file
// never makes it fail: a Knock* line with a bad value, or a file it cannot
// parse or read, gives a warning and is ignored.
//
// # Keywords
//
//   - KnockSequence: the secret, digits 1-9, one a burst ("3141", or
//     "3-1-4-1"); required: without it no stanza applies.
//   - KnockPort: the port knocked on, 1-65535; default 443.
//   - KnockWindow: the server's window in whole seconds ("3" or "3s");
//     default 3.
//   - KnockProtocol: udp, tcp or raw; default udp.
//   - KnockMargin: a duration such as 50ms, how long after the last burst
//     to connect; default 50ms.
//   - KnockRetries: attempts after the first, 0 or more; default 2.
//   - KnockAddress: the address to knock on, when it is not the HostName
//     ssh connects to; default that HostName.
//   - KnockSource: the local IP address to knock and connect from.
//   - KnockInterface: the network interface to knock and connect by.
//   - KnockFamily: any, inet or inet6, like ssh's AddressFamily; default
//     any.
//
// # Precedence
//
// As in ssh, the first value found for each keyword wins: files are read
// in order, each from top to bottom, included files where their Include
// line is, and a value applies when its Host block matches the alias (the
// name typed on ssh's command line, before HostName). Specific Host blocks
// go first, and "Host *" defaults last.
//
// # Host patterns
//
// As in ssh, a Host line holds one or more patterns separated by spaces or
// tabs, matched case-sensitively against the alias; "*" matches any run of
// characters and "?" exactly one; a pattern prefixed with "!" is negated,
// and when a negated pattern matches, the whole Host line does not, even if
// another of its patterns matches. Lines before the first Host line apply
// to every alias.
//
// # Include
//
// Include works as in ssh: it takes one or more paths, which may hold glob
// wildcards (files are read in lexical order; a pattern that matches
// nothing is skipped) and start with "~" or "~user". Inside a Host block
// it applies only when that block matches (the file is still checked);
// includes nest at most 16 deep. A relative path is taken from the
// directory of the including file in a knock config, and from ~/.ssh in an
// ssh config, as ssh does.
//
// # Match
//
// knockssh cannot evaluate Match (it would need ssh's full state, and Match
// exec would run commands). In a knock config, Match is an error. In an ssh
// config, each Match block, up to the next Host or Match line, is skipped,
// and Knock* lines in one give a warning.
//
// # Permissions
//
// On Unix, a knock config, or a file it includes, that its group or others
// may write is refused, and one they may read gives a warning: it holds
// secrets. An ssh config, or a file it includes, is checked in the same way,
// but only when a Knock* value knockssh uses comes from it (a warning about
// reading only when that value is the KnockSequence). Windows files are not
// checked.
package sshwrap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
	"github.com/knockssh/knockssh/knocker"
)

// A Stanza is the knock configuration that applies to one host alias.
type Stanza struct {
	// Alias is the name the user typed, which the Host patterns matched.
	Alias string
	// Address is KnockAddress: the address to knock on, "" for the
	// HostName ssh connects to.
	Address string
	// Config holds everything else; its Host is empty.
	Config knocker.Config
}

// A File is one config file Lookup reads.
type File struct {
	// Path is the file's name.
	Path string
	// SSH marks an ssh_config (the user's ~/.ssh/config, or ssh -F's
	// file): only Knock* keywords are read from it (users put them there
	// with "IgnoreUnknown Knock*"), every other keyword is ignored, and a
	// Match block is skipped (its Knock* lines, if any, produce one warning
	// naming file:line, since knockssh cannot evaluate Match). Such a file
	// never makes Lookup fail, except for its permissions.
	SSH bool
	// Optional: a missing file is skipped silently.
	Optional bool
}

// KnockFiles returns the files Lookup reads: knockConfig (--config) alone
// when it is set, else DefaultFiles(sshConfig).
func KnockFiles(knockConfig, sshConfig string) []File {
	if knockConfig != "" {
		return []File{{Path: knockConfig}}
	}
	return DefaultFiles(sshConfig)
}

// DefaultFiles returns the files read when --config is not given, in
// order: ~/.ssh/knock_config (optional), the user's ssh config (sshConfig
// when non-empty, the -F file, required to exist, and none when it is
// "none", as for ssh; else ~/.ssh/config, optional; both SSH=true), and
// /etc/ssh/knock_config (optional; not on windows).
func DefaultFiles(sshConfig string) []File {
	var files []File
	home, err := os.UserHomeDir()
	if err == nil {
		files = append(files, File{Path: filepath.Join(home, ".ssh", "knock_config"), Optional: true})
	}
	switch {
	case strings.EqualFold(sshConfig, "none"):
	case sshConfig != "":
		files = append(files, File{Path: sshConfig, SSH: true})
	case err == nil:
		files = append(files, File{Path: filepath.Join(home, ".ssh", "config"), SSH: true, Optional: true})
	}
	if runtime.GOOS != "windows" {
		files = append(files, File{Path: "/etc/ssh/knock_config", Optional: true})
	}
	return files
}

// keywords maps each lower-case keyword to its canonical spelling, and
// wants says what each one takes.
var (
	keywords = map[string]string{}
	wants    = map[string]string{
		"KnockSequence":  "digits 1-9, one a burst",
		"KnockPort":      "a port number from 1 to 65535",
		"KnockWindow":    "a whole number of seconds such as 3",
		"KnockProtocol":  "udp, tcp or raw",
		"KnockMargin":    "a positive duration such as 50ms",
		"KnockRetries":   "a number of retries (0 or more)",
		"KnockAddress":   "a host name or IP address",
		"KnockSource":    "a local IP address",
		"KnockInterface": "a network interface name",
		"KnockFamily":    "any, inet or inet6",
	}
)

func init() {
	for k := range wants {
		keywords[strings.ToLower(k)] = k
	}
}

const (
	// maxDepth is how deep Include may nest, as in ssh.
	maxDepth = 16
	// maxFiles bounds the files one Lookup reads, against Include loops
	// that fan out (Include * *) and so take long to reach maxDepth.
	maxFiles = 1024
	// maxSize bounds the size of a config file.
	maxSize = 1 << 20
)

// Lookup reads files in order and returns the stanza for alias (first
// value of each keyword wins across all files, as ssh); found is false
// when no KnockSequence applies. warn, if not nil, receives non-fatal
// problems, such as a knock config readable by others or a bad Knock*
// line in an ssh config; each is sent once.
func Lookup(alias string, files []File, warn func(string)) (st Stanza, found bool, err error) {
	l := &lookup{
		alias:  alias,
		warn:   warn,
		warned: map[string]bool{},
		st:     Stanza{Alias: alias, Config: knocker.Config{Retries: knocker.DefaultRetries}},
		from:   map[string]*source{},
	}
	for _, f := range files {
		if err := l.file(f.Path, f.SSH, f.Optional, true, 0); err != nil {
			return Stanza{Alias: alias}, false, err
		}
	}
	if err := l.checkSSHPerms(); err != nil {
		return Stanza{Alias: alias}, false, err
	}
	return l.st, l.from["KnockSequence"] != nil, nil
}

// lookup is the state of one Lookup.
type lookup struct {
	alias   string
	warn    func(string)
	warned  map[string]bool
	st      Stanza
	from    map[string]*source // which file each keyword's value came from
	sources []*source          // the ssh config files read
	nfiles  int
}

// A source is a config file read.
type source struct {
	path string
	fi   fs.FileInfo
	ssh  bool
}

func (l *lookup) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.warn != nil && !l.warned[msg] {
		l.warned[msg] = true
		l.warn(msg)
	}
}

// soft applies the rule for a fault in a config: in an ssh config (ssh is
// true) it is a warning, "err; what", and the thing is passed over; in a
// knock config it is err.
func (l *lookup) soft(ssh bool, err error, what string) error {
	if ssh {
		l.warnf("%v; %s", err, what)
		return nil
	}
	return err
}

// file reads one config file, and those it includes. active is false for a
// file included from a Host block that does not match: it is checked, and
// its values are not used.
func (l *lookup) file(path string, ssh, optional, active bool, depth int) error {
	l.nfiles++
	src, data, err := l.read(path, ssh)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return l.soft(ssh, err, "skipped")
	}
	sc, err := l.scan(data, path, ssh)
	if err != nil {
		return err
	}
	cfg, err := decode(sc.data)
	if err == nil && len(cfg.Hosts) != len(sc.hosts)+1 {
		err = errors.New("cannot parse: Host lines out of step")
	}
	if err != nil {
		return l.soft(ssh, errors.New(sc.redact(libraryError(path, err))), "skipped")
	}
	for i, h := range cfg.Hosts {
		on := active // lines before the first Host line
		if i > 0 {
			on = active && hostMatches(sc.hosts[i-1], l.alias)
		}
		for _, n := range h.Nodes {
			switch n := n.(type) {
			case *ssh_config.KV:
				err = l.keyword(n, src, on)
			case *ssh_config.Empty:
				if args, ok := sc.includes[n.Pos().Line]; ok {
					err = l.include(args, path, n.Pos().Line, ssh, on, depth)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// read reads a config file: a regular file of at most maxSize bytes. A
// knock config is refused when others may write it; an ssh config is
// checked later, if it supplies a value.
func (l *lookup) read(path string, ssh bool) (*source, []byte, error) {
	// Stat before opening: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	if !ssh {
		if err := CheckPerm(path, fi, l.warnOnce); err != nil {
			return nil, nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxSize {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, maxSize)
	}
	src := &source{path: path, fi: fi, ssh: ssh}
	if ssh {
		l.sources = append(l.sources, src)
	}
	return src, data, nil
}

func (l *lookup) warnOnce(msg string) { l.warnf("%s", msg) }

// checkSSHPerms checks the ssh configs that supplied a value in use: none
// may be writable by others, and one that supplied the KnockSequence gets
// a warning when others may read it.
func (l *lookup) checkSSHPerms() error {
	for _, src := range l.sources {
		var used, secret bool
		for key, s := range l.from {
			if s == src {
				used = true
				secret = secret || key == "KnockSequence"
			}
		}
		if !used {
			continue
		}
		var warn func(string)
		if secret {
			warn = l.warnOnce
		}
		if err := CheckPerm(src.path, src.fi, warn); err != nil {
			return err
		}
	}
	return nil
}

// A scanned file is a config file prepared for ssh_config.DecodeBytes,
// which cannot be given Match or Include lines: it rejects most Match
// criteria and evaluates none correctly, and it reads Include files
// itself, relative to the real ~/.ssh, failing on any error in them.
type scanned struct {
	// data is the file with each Include line, and each Match block (in
	// an ssh config), turned into a "#" line, so line numbers stay right.
	data []byte
	// hosts are the patterns of the file's Host lines, in order: hosts[i]
	// starts the decoded Config's Hosts[i+1].
	hosts [][]string
	// includes holds each Include line's arguments by line number.
	includes map[int][]string
	// secrets are the file's KnockSequence values, to keep out of
	// messages.
	secrets []string
}

// scan prepares data, the contents of path, for decoding. It splits lines
// and finds keywords as ssh_config's lexer does.
func (l *lookup) scan(data []byte, path string, ssh bool) (*scanned, error) {
	sc := &scanned{includes: map[int][]string{}}
	lines := bytes.Split(data, []byte("\n"))
	inMatch, matchLine, matchWarned := false, 0, false
	for i, text := range lines {
		n := i + 1
		key, rest, ok := splitLine(string(text))
		if !ok {
			continue
		}
		lkey := strings.ToLower(key)
		if strings.HasPrefix(lkey, "knocksequence") {
			sc.secrets = append(sc.secrets, strings.Trim(rest, ` "`))
			if lkey != "knocksequence" {
				sc.secrets = append(sc.secrets, key)
			}
		}
		switch {
		case lkey == "match":
			if !ssh {
				return nil, fmt.Errorf("%s:%d: Match is not supported in a knock config (knockssh cannot evaluate it); use Host", path, n)
			}
			inMatch, matchLine, matchWarned = true, n, false
			lines[i] = []byte("#")
		case lkey == "host":
			inMatch = false
			args, err := splitArgs(rest)
			if !ssh && err != nil {
				return nil, fmt.Errorf("%s:%d: Host: %v", path, n, err)
			}
			if !ssh && len(args) == 0 {
				return nil, fmt.Errorf("%s:%d: Host: want one or more patterns", path, n)
			}
			sc.hosts = append(sc.hosts, args)
		case inMatch:
			if strings.HasPrefix(lkey, "knock") && !matchWarned {
				l.warnf("%s:%d: Knock* lines in a Match block (line %d) are ignored: knockssh cannot evaluate Match; put them in a Host block", path, n, matchLine)
				matchWarned = true
			}
			lines[i] = []byte("#")
		case lkey == "include":
			args, err := splitArgs(rest)
			if !ssh && err != nil {
				return nil, fmt.Errorf("%s:%d: Include: %v", path, n, err)
			}
			if !ssh && len(args) == 0 {
				return nil, fmt.Errorf("%s:%d: Include: want one or more paths", path, n)
			}
			sc.includes[n] = args
			lines[i] = []byte("#")
		}
	}
	sc.data = bytes.Join(lines, []byte("\n"))
	return sc, nil
}

// splitLine returns the keyword of a config line and the rest of it, after
// the spaces and the "=" that may follow the keyword, as ssh_config's lexer
// splits it; ok is false for a blank or comment line.
func splitLine(s string) (key, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t\r")
	if s == "" || s[0] == '#' {
		return "", "", false
	}
	key, rest = s, ""
	if i := strings.IndexAny(s, " \t=\r"); i >= 0 {
		key, rest = s[:i], strings.TrimLeft(s[i:], " \t")
		if strings.HasPrefix(rest, "=") {
			rest = strings.TrimLeft(rest[1:], " \t")
		}
	}
	return key, strings.TrimRight(rest, " \t\r"), true
}

// splitArgs splits the arguments of a Host or Include line as ssh does:
// at spaces and tabs, except inside single or double quotes, which it
// removes; a backslash escapes a quote, a space or a backslash; an
// argument starting with "#" starts a comment.
func splitArgs(s string) ([]string, error) {
	var args []string
	for {
		s = strings.TrimLeft(s, " \t\r")
		if s == "" || s[0] == '#' {
			return args, nil
		}
		var b strings.Builder
		var quote byte
		i := 0
	arg:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && strings.IndexByte("\\\"' ", s[i+1]) >= 0:
				i++
				b.WriteByte(s[i])
			case quote != 0 && c == quote:
				quote = 0
			case quote != 0:
				b.WriteByte(c)
			case c == '"' || c == '\'':
				quote = c
			case c == ' ' || c == '\t' || c == '\r':
				break arg
			default:
				b.WriteByte(c)
			}
		}
		args = append(args, b.String())
		if quote != 0 {
			return args, errors.New("unterminated quote")
		}
		s = s[i:]
	}
}

// decode runs ssh_config.DecodeBytes, turning a panic into an error.
func decode(data []byte) (cfg *ssh_config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	return ssh_config.DecodeBytes(data)
}

// libraryPos is the "(line, col): " prefix of ssh_config's errors.
var libraryPos = regexp.MustCompile(`^\((\d+), \d+\): `)

// libraryError turns an error from decode into one line naming file:line.
func libraryError(path string, err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if m := libraryPos.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s:%s: %s", path, m[1], msg[len(m[0]):])
	}
	return fmt.Sprintf("%s: %s", path, msg)
}

// redact replaces msg when it holds one of the file's KnockSequence values.
func (sc *scanned) redact(msg string) string {
	for _, s := range sc.secrets {
		if s != "" && strings.Contains(msg, s) {
			path, _, _ := strings.Cut(msg, ": ")
			return path + ": cannot parse (the details are not shown: they hold a KnockSequence value)"
		}
	}
	return msg
}

// include reads the files an Include line (args, at from:line) names.
func (l *lookup) include(args []string, from string, line int, ssh, active bool, depth int) error {
	where := fmt.Sprintf("%s:%d", from, line)
	if depth >= maxDepth {
		return l.soft(ssh, fmt.Errorf("%s: Include nested too deep", where), "ignored")
	}
	for _, arg := range args {
		pattern, err := includePath(arg, from, ssh)
		if err != nil {
			return l.soft(ssh, fmt.Errorf("%s: Include: %v", where, err), "ignored")
		}
		paths, err := filepath.Glob(pattern)
		if err != nil {
			return l.soft(ssh, fmt.Errorf("%s: Include: bad pattern %q", where, arg), "ignored")
		}
		for _, p := range paths {
			if l.nfiles >= maxFiles {
				return l.soft(ssh, fmt.Errorf("%s: Include: more than %d files to read; is there an Include loop?", where, maxFiles), "ignored")
			}
			if err := l.file(p, ssh, true, active, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// includePath returns the path, or glob pattern, Include argument arg in
// file from stands for.
func includePath(arg, from string, ssh bool) (string, error) {
	if rest, ok := strings.CutPrefix(arg, "~"); ok {
		name := rest
		if i := strings.IndexFunc(rest, func(r rune) bool { return r < 128 && os.IsPathSeparator(uint8(r)) }); i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		var home string
		if name == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			home = h
		} else {
			u, err := user.Lookup(name)
			if err != nil {
				return "", fmt.Errorf("no user %q for %q", name, arg)
			}
			home = u.HomeDir
		}
		return filepath.Join(home, rest), nil
	}
	if filepath.IsAbs(arg) {
		return arg, nil
	}
	if ssh {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, ".ssh", arg), nil
	}
	return filepath.Join(filepath.Dir(from), arg), nil
}

// keyword checks one keyword line and, when its block applies (on) and the
// keyword has no value yet, records its value.
func (l *lookup) keyword(n *ssh_config.KV, src *source, on bool) error {
	where := fmt.Sprintf("%s:%d", src.path, n.Pos().Line)
	lkey := strings.ToLower(n.Key)
	if src.ssh && !strings.HasPrefix(lkey, "knock") {
		return nil
	}
	key, ok := keywords[lkey]
	if !ok {
		if plainWord(n.Key) && !strings.HasPrefix(lkey, "knocksequence") {
			return l.soft(src.ssh, fmt.Errorf("%s: unknown keyword %q, want a Knock* keyword such as KnockSequence", where, n.Key), "ignored")
		}
		// It may be a KnockSequence line with the space missing, or the
		// secret alone: say nothing of it.
		return l.soft(src.ssh, fmt.Errorf("%s: unknown keyword (not shown, as it may hold the secret: is a space missing before a value?), want a Knock* keyword such as KnockSequence", where), "ignored")
	}
	next := l.st
	if err := next.set(key, strings.TrimSpace(n.Value)); err != nil {
		return l.soft(src.ssh, fmt.Errorf("%s: %s: %w", where, key, err), "ignored")
	}
	if on && l.from[key] == nil {
		l.st = next
		l.from[key] = src
	}
	return nil
}

// plainWord reports whether s is a word of ASCII letters, as every
// keyword is.
func plainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

// set parses v, the value of key, into st. Its errors say what key wants
// and never show a KnockSequence value.
func (st *Stanza) set(key, v string) error {
	if v == "" {
		return fmt.Errorf("no value, want %s", wants[key])
	}
	c := &st.Config
	var err error
	switch key {
	case "KnockSequence":
		c.Sequence, err = knocker.ParseSequence(v)
		return err // never echoes the value
	case "KnockPort":
		c.Port, err = strconv.Atoi(v)
		if err != nil || c.Port < 1 || c.Port > 65535 {
			return fmt.Errorf("%q is not a port number from 1 to 65535", v)
		}
	case "KnockWindow":
		n, err := strconv.Atoi(strings.TrimSuffix(v, "s"))
		if err != nil || n < 1 || n > 3600 {
			return fmt.Errorf("%q is not a whole number of seconds from 1 to 3600", v)
		}
		c.Window = time.Duration(n) * time.Second
	case "KnockProtocol":
		c.Protocol, err = knocker.ParseProtocol(v)
		return err
	case "KnockMargin":
		c.Margin, err = time.ParseDuration(v)
		if err != nil || c.Margin <= 0 {
			return fmt.Errorf("%q is not a positive duration such as 50ms", v)
		}
	case "KnockRetries":
		c.Retries, err = strconv.Atoi(v)
		if err != nil || c.Retries < 0 {
			return fmt.Errorf("%q is not a number of retries (0 or more)", v)
		}
	case "KnockAddress":
		st.Address = v
	case "KnockSource":
		if c.Source, err = netip.ParseAddr(v); err != nil {
			return fmt.Errorf("%q is not an IP address", v)
		}
	case "KnockInterface":
		c.Interface = v
	case "KnockFamily":
		switch strings.ToLower(v) {
		case "any":
			c.Network = "ip"
		case "inet":
			c.Network = "ip4"
		case "inet6":
			c.Network = "ip6"
		default:
			return fmt.Errorf("%q is not any, inet or inet6", v)
		}
	}
	return nil
}

// hostMatches reports whether the patterns of a Host line match alias, as
// in ssh: one pattern must match, and no negated one. (ssh_config's
// Host.Matches is not used: its "?" matches zero or one character, and it
// splits patterns at spaces only.)
func hostMatches(patterns []string, alias string) bool {
	found := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if matchPattern(alias, p) {
			if neg {
				return false
			}
			found = true
		}
	}
	return found
}

// matchPattern reports whether s matches pattern, where "*" matches any
// run of bytes and "?" exactly one, as ssh's match_pattern.
func matchPattern(s, pattern string) bool {
	si, pi := 0, 0
	star, mark := -1, 0 // the last "*" seen, and where its match ends
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
