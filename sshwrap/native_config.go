package sshwrap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// HostConfig is what the native client uses to reach one host: the
// ssh_config settings for the alias, after the -o options and the command
// line, with ssh's defaults filled in and ~, %-tokens and ${VAR} expanded
// in the file names.
type HostConfig struct {
	Alias    string // the name as typed, which Host patterns match
	HostName string // the host to connect to (HostName, default Alias)
	Port     int    // default 22
	User     string // default the local user
	// HostKeyAlias, when set, is the name looked up in and written to the
	// known_hosts files instead of HostName, as given: without [ ]:port.
	HostKeyAlias string
	// IdentityFiles are the private keys to try (-i first, then
	// IdentityFile lines); when none is given, ssh's default files
	// (~/.ssh/id_ed25519, id_ecdsa, id_rsa) that exist.
	IdentityFiles []string
	// CertificateFiles are CertificateFile lines; a "-cert.pub" file next
	// to an identity is used too, as by ssh.
	CertificateFiles []string
	// IdentitiesOnly restricts the agent's keys to the identity files.
	IdentitiesOnly bool
	// IdentityAgent is the agent's socket: $SSH_AUTH_SOCK by default, ""
	// for none.
	IdentityAgent string
	// UserKnownHostsFiles and GlobalKnownHostsFiles are the known_hosts
	// files; new keys go to the first user file.
	UserKnownHostsFiles, GlobalKnownHostsFiles []string
	// StrictHostKeyChecking is yes, accept-new, ask (the default) or no.
	StrictHostKeyChecking string
	// HashKnownHosts hashes the host names of the keys it adds.
	HashKnownHosts bool
	// BatchMode disables every prompt.
	BatchMode bool
	// PubkeyAuthentication, KbdInteractiveAuthentication and
	// PasswordAuthentication select the authentication methods.
	PubkeyAuthentication, KbdInteractiveAuthentication, PasswordAuthentication bool
	// NumberOfPasswordPrompts is how many times a password or passphrase
	// is asked for (default 3).
	NumberOfPasswordPrompts int
	// ConnectTimeout bounds the TCP connection and the ssh handshake; 0
	// for none.
	ConnectTimeout time.Duration
	// ServerAliveInterval is the keepalive interval (0: none), and
	// ServerAliveCountMax the unanswered keepalives after which the
	// connection is dropped (default 3).
	ServerAliveInterval time.Duration
	ServerAliveCountMax int
	// AddressFamily is any, inet or inet6.
	AddressFamily string
	// RequestTTY is auto, yes, force or no.
	RequestTTY string
	// LocalForwards are the -L specifications and LocalForward lines,
	// each as [bind_address:]port:host:hostport.
	LocalForwards []string
	// ExitOnForwardFailure makes a forwarding that cannot be set up fatal.
	ExitOnForwardFailure bool
	// LogLevel is ssh's LogLevel in upper case (QUIET, ERROR, INFO, ...).
	LogLevel string
}

// nativeKeywords are the ssh_config keywords the native client uses, in
// lower case, each with its canonical spelling.
var nativeKeywords = map[string]string{}

func init() {
	for _, k := range []string{
		"HostName", "Port", "User", "HostKeyAlias", "IdentityFile", "CertificateFile",
		"IdentitiesOnly", "IdentityAgent", "UserKnownHostsFile", "GlobalKnownHostsFile",
		"StrictHostKeyChecking", "HashKnownHosts", "BatchMode", "PubkeyAuthentication",
		"KbdInteractiveAuthentication", "ChallengeResponseAuthentication", "PasswordAuthentication",
		"NumberOfPasswordPrompts", "ConnectTimeout", "ServerAliveInterval", "ServerAliveCountMax",
		"AddressFamily", "RequestTTY", "LocalForward", "ExitOnForwardFailure", "LogLevel",
		"ProxyCommand", "ProxyJump",
	} {
		nativeKeywords[strings.ToLower(k)] = k
	}
}

// harmlessKeywords are -o keywords the native client accepts and ignores:
// they only tune what it does not do, or what it does anyway.
var harmlessKeywords = map[string]bool{
	"sendenv": true, "controlpath": true, "checkhostip": true,
	"visualhostkey": true, "updatehostkeys": true, "verifyhostkeydns": true,
	"gssapiauthentication": true, "gssapidelegatecredentials": true,
	"hostbasedauthentication": true, "tcpkeepalive": true, "addkeystoagent": true,
	"ignoreunknown": true, "escapechar": true, "canonicalizehostname": true,
	"clearallforwardings": true,
}

// offKeywords are -o keywords that ask for a feature the native client
// lacks: accepted only when they turn it off.
var offKeywords = map[string]bool{
	"forwardagent": true, "forwardx11": true, "forwardx11trusted": true,
	"controlmaster": true, "controlpersist": true, "compression": true,
	"permitlocalcommand": true, "gatewayports": true, "tunnel": true,
	"forkafterauthentication": true,
}

// repeatable keywords add up, in order; every other keyword takes its
// first value, as in ssh.
var repeatable = map[string]bool{"IdentityFile": true, "CertificateFile": true, "LocalForward": true}

// settings holds the values found for the native keywords, by canonical
// keyword, and where each came from.
type settings struct {
	vals  map[string][]string
	where map[string]string
}

func (s *settings) set(key, value, where string) {
	if s.vals == nil {
		s.vals, s.where = map[string][]string{}, map[string]string{}
	}
	if _, ok := s.vals[key]; ok && !repeatable[key] {
		return
	}
	s.vals[key] = append(s.vals[key], value)
	if s.where[key] == "" {
		s.where[key] = where
	}
}

func (s *settings) get(key string) (string, bool) {
	v, ok := s.vals[key]
	if !ok {
		return "", false
	}
	return v[0], true
}

// nativeOption checks one -o line for the native client and records it.
func (s *settings) option(line string) error {
	kw, rest, ok := splitConfigLine(line)
	if !ok {
		return fmt.Errorf("-o %q: want a keyword and a value, such as -o Port=2222", line)
	}
	if strings.TrimFunc(kw, func(r rune) bool { return r < 128 && isAlnum(byte(r)) }) != "" {
		return fmt.Errorf("-o %.60q: bad keyword %.40q", line, kw)
	}
	lkw := strings.ToLower(kw)
	key, ok := nativeKeywords[lkw]
	if !ok {
		if harmlessKeywords[lkw] {
			return nil
		}
		if offKeywords[lkw] {
			switch strings.ToLower(firstWord(rest)) {
			case "no", "none", "false":
				return nil
			}
		}
		return unsupported("-o " + kw)
	}
	if key == "ProxyCommand" || key == "ProxyJump" {
		if strings.EqualFold(strings.TrimSpace(rest), "none") || isKnockProxy(rest) {
			// Recorded: as in ssh, the first value wins over the config's.
			s.set(key, strings.TrimSpace(rest), "-o "+kw)
			return nil
		}
		return unsupported("-o " + key)
	}
	s.set(key, rest, "-o "+kw)
	return nil
}

// An UnsupportedError is an ssh option or keyword the native client does
// not implement.
type UnsupportedError struct {
	// Option is the option as given, such as "-X" or "-o ForwardAgent".
	Option string
	// What names the feature, when known.
	What string
}

// Error says what is not supported and to use the system ssh instead.
func (e *UnsupportedError) Error() string {
	if e.What != "" {
		return fmt.Sprintf("--native does not support %s (%s); use the system ssh", e.Option, e.What)
	}
	return fmt.Sprintf("--native does not support %s; use the system ssh", e.Option)
}

func unsupported(option string) error { return &UnsupportedError{Option: option} }

// sshFile is one ssh config file to read for the native client.
type sshFile struct {
	path     string
	optional bool
	system   bool // relative Include paths are under /etc/ssh
}

// sshConfigFiles returns the ssh configs read for configFile (ssh's -F).
func sshConfigFiles(configFile string) []sshFile {
	switch {
	case strings.EqualFold(configFile, "none"):
		return nil
	case configFile != "":
		return []sshFile{{path: configFile}}
	}
	var files []sshFile
	if home, err := os.UserHomeDir(); err == nil {
		files = append(files, sshFile{path: filepath.Join(home, ".ssh", "config"), optional: true})
	}
	if runtime.GOOS != "windows" {
		files = append(files, sshFile{path: "/etc/ssh/ssh_config", optional: true, system: true})
	} else if pd := os.Getenv("ProgramData"); pd != "" {
		files = append(files, sshFile{path: filepath.Join(pd, "ssh", "ssh_config"), optional: true, system: true})
	}
	return files
}

// readSSHConfig records in s the values of the native keywords that apply
// to alias in file, and in the files it includes. Match blocks are
// skipped, as Lookup skips them; warnMatch, when not nil, is told of a
// native keyword in one.
func readSSHConfig(s *settings, alias string, f sshFile, warnMatch func(string)) error {
	l := &lookup{alias: alias, warned: map[string]bool{}, from: map[string]*source{}}
	return l.nativeFile(s, f.path, f.optional, f.system, true, 0, warnMatch)
}

// matchKeyword returns the first line of data, the contents of path, in a
// Match block with a keyword the native client uses (or an Include), and
// the keyword; "" when there is none.
func matchKeyword(data []byte, path string) (where, keyword string) {
	inMatch := false
	for i, text := range bytes.Split(data, []byte("\n")) {
		key, _, ok := splitLine(string(text))
		if !ok {
			continue
		}
		lkey := strings.ToLower(key)
		switch {
		case lkey == "match":
			inMatch = true
		case lkey == "host":
			inMatch = false
		case inMatch && lkey == "include":
			return fmt.Sprintf("%s:%d", path, i+1), "Include"
		case inMatch && nativeKeywords[lkey] != "":
			return fmt.Sprintf("%s:%d", path, i+1), nativeKeywords[lkey]
		}
	}
	return "", ""
}

func (l *lookup) nativeFile(s *settings, path string, optional, system, active bool, depth int, warnMatch func(string)) error {
	l.nfiles++
	if path == os.DevNull {
		return nil // -F /dev/null: no config, as for ssh
	}
	_, data, err := l.read(path, true)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	sc, err := l.scan(data, path, true)
	if err != nil {
		return err
	}
	if warnMatch != nil && active {
		if where, kw := matchKeyword(data, path); where != "" {
			warnMatch(fmt.Sprintf("Match blocks are not evaluated by --native; %s at %s ignored", kw, where))
		}
	}
	cfg, err := decode(sc.data)
	if err == nil && len(cfg.Hosts) != len(sc.hosts)+1 {
		err = errors.New("cannot parse: Host lines out of step")
	}
	if err != nil {
		return errors.New(sc.redact(libraryError(path, err)))
	}
	for i, h := range cfg.Hosts {
		on := active
		if i > 0 {
			on = active && hostMatches(sc.hosts[i-1], l.alias)
		}
		for _, n := range h.Nodes {
			switch n := n.(type) {
			case *ssh_config.KV:
				key, ok := nativeKeywords[strings.ToLower(n.Key)]
				if ok && on {
					s.set(key, strings.TrimSpace(n.Value), fmt.Sprintf("%s:%d", path, n.Pos().Line))
				}
			case *ssh_config.Empty:
				args, ok := sc.includes[n.Pos().Line]
				if !ok || !on {
					continue
				}
				if depth >= maxDepth {
					return fmt.Errorf("%s:%d: Include nested too deep", path, n.Pos().Line)
				}
				for _, arg := range args {
					pattern, err := includePath(arg, path, !system)
					if err != nil {
						return fmt.Errorf("%s:%d: Include: %w", path, n.Pos().Line, err)
					}
					paths, err := filepath.Glob(pattern)
					if err != nil {
						return fmt.Errorf("%s:%d: Include: bad pattern %q", path, n.Pos().Line, arg)
					}
					for _, p := range paths {
						if l.nfiles >= maxFiles {
							return fmt.Errorf("%s:%d: Include: more than %d files to read", path, n.Pos().Line, maxFiles)
						}
						if err := l.nativeFile(s, p, true, system, on, depth+1, warnMatch); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

// ResolveHost returns the settings the native client uses for alias: the
// -o lines of o first, then the ssh config (o.ConfigFile, or
// ~/.ssh/config and the system's ssh_config), first value winning as in
// ssh, with o's User, Port and IdentityFiles on top. It never runs ssh.
func ResolveHost(alias string, o *ClientOptions) (HostConfig, error) {
	if o == nil {
		o = &ClientOptions{}
	}
	var s settings
	for _, line := range o.Options {
		if err := s.option(line); err != nil {
			return HostConfig{}, err
		}
	}
	// One warning about Match blocks is enough.
	matchWarned := false
	warnMatch := func(msg string) {
		if o.Warn != nil && !matchWarned {
			matchWarned = true
			o.Warn(msg)
		}
	}
	for _, f := range sshConfigFiles(o.ConfigFile) {
		if err := readSSHConfig(&s, alias, f, warnMatch); err != nil {
			return HostConfig{}, err
		}
	}
	return s.resolve(alias, o)
}

// resolve turns the values found into a HostConfig.
func (s *settings) resolve(alias string, o *ClientOptions) (HostConfig, error) {
	h := HostConfig{
		Alias: alias, HostName: alias, Port: 22,
		StrictHostKeyChecking: "ask", IdentityAgent: os.Getenv("SSH_AUTH_SOCK"),
		PubkeyAuthentication: true, KbdInteractiveAuthentication: true, PasswordAuthentication: true,
		NumberOfPasswordPrompts: 3, ServerAliveCountMax: 3, AddressFamily: "any", RequestTTY: "auto",
		LogLevel: "INFO",
	}
	bad := func(key, want string) error {
		v, _ := s.get(key)
		return fmt.Errorf("%s: %s %q: want %s", s.where[key], key, v, want)
	}
	yesno := func(key string, dst *bool) error {
		v, ok := s.get(key)
		if !ok {
			return nil
		}
		switch strings.ToLower(firstWord(v)) {
		case "yes", "true":
			*dst = true
		case "no", "false":
			*dst = false
		default:
			return bad(key, "yes or no")
		}
		return nil
	}
	seconds := func(key string, dst *time.Duration) error {
		v, ok := s.get(key)
		if !ok || strings.EqualFold(v, "none") {
			return nil
		}
		d, err := configTime(firstWord(v))
		if err != nil {
			return bad(key, "a time such as 30 or 1m")
		}
		*dst = d
		return nil
	}
	count := func(key string, dst *int) error {
		v, ok := s.get(key)
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(firstWord(v))
		if err != nil || n < 0 {
			return bad(key, "a number, 0 or more")
		}
		*dst = n
		return nil
	}
	for _, err := range []error{
		yesno("IdentitiesOnly", &h.IdentitiesOnly),
		yesno("HashKnownHosts", &h.HashKnownHosts),
		yesno("BatchMode", &h.BatchMode),
		yesno("PubkeyAuthentication", &h.PubkeyAuthentication),
		yesno("KbdInteractiveAuthentication", &h.KbdInteractiveAuthentication),
		yesno("PasswordAuthentication", &h.PasswordAuthentication),
		yesno("ExitOnForwardFailure", &h.ExitOnForwardFailure),
		seconds("ConnectTimeout", &h.ConnectTimeout),
		seconds("ServerAliveInterval", &h.ServerAliveInterval),
		count("ServerAliveCountMax", &h.ServerAliveCountMax),
		count("NumberOfPasswordPrompts", &h.NumberOfPasswordPrompts),
	} {
		if err != nil {
			return HostConfig{}, err
		}
	}
	if _, ok := s.get("KbdInteractiveAuthentication"); !ok {
		if err := yesno("ChallengeResponseAuthentication", &h.KbdInteractiveAuthentication); err != nil {
			return HostConfig{}, err
		}
	}
	if v, ok := s.get("StrictHostKeyChecking"); ok {
		switch strings.ToLower(firstWord(v)) {
		case "yes", "true":
			h.StrictHostKeyChecking = "yes"
		case "accept-new":
			h.StrictHostKeyChecking = "accept-new"
		case "ask":
			h.StrictHostKeyChecking = "ask"
		case "no", "off", "false":
			h.StrictHostKeyChecking = "no"
		default:
			return HostConfig{}, bad("StrictHostKeyChecking", "yes, accept-new, ask or no")
		}
	}
	if v, ok := s.get("AddressFamily"); ok {
		h.AddressFamily = strings.ToLower(firstWord(v))
		if h.AddressFamily != "any" && h.AddressFamily != "inet" && h.AddressFamily != "inet6" {
			return HostConfig{}, bad("AddressFamily", "any, inet or inet6")
		}
	}
	if v, ok := s.get("RequestTTY"); ok {
		h.RequestTTY = strings.ToLower(firstWord(v))
		switch h.RequestTTY {
		case "auto", "force", "no":
		case "yes", "true":
			h.RequestTTY = "yes"
		case "false":
			h.RequestTTY = "no"
		default:
			return HostConfig{}, bad("RequestTTY", "auto, yes, force or no")
		}
	}
	if v, ok := s.get("LogLevel"); ok {
		h.LogLevel = strings.ToUpper(firstWord(v))
	}
	for _, key := range []string{"ProxyCommand", "ProxyJump"} {
		if v, ok := s.get(key); ok && !strings.EqualFold(v, "none") && !isKnockProxy(v) {
			return HostConfig{}, fmt.Errorf("%s: %s: --native does not support proxies; use the system ssh", s.where[key], key)
		}
	}
	// The user and port of the command line win over the config files.
	if o.User != "" {
		h.User = o.User
	} else if v, ok := s.get("User"); ok {
		h.User = firstWord(v)
	}
	if h.User == "" {
		if u, err := user.Current(); err == nil {
			h.User = u.Username
			if i := strings.LastIndexByte(h.User, '\\'); i >= 0 { // DOMAIN\user on Windows
				h.User = h.User[i+1:]
			}
		}
	}
	if o.Port != 0 {
		h.Port = o.Port
	} else if v, ok := s.get("Port"); ok {
		if h.Port = a2port(firstWord(v)); h.Port <= 0 {
			return HostConfig{}, bad("Port", "a port number from 1 to 65535")
		}
	}
	if v, ok := s.get("HostName"); ok {
		h.HostName = strings.ReplaceAll(strings.ReplaceAll(firstWord(v), "%h", alias), "%%", "%")
	}
	if v, ok := s.get("HostKeyAlias"); ok {
		h.HostKeyAlias = firstWord(v)
	}
	expand := func(key, v string) (string, error) {
		p, err := h.expand(v)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", s.where[key], key, err)
		}
		return p, nil
	}
	for _, v := range o.IdentityFiles {
		p, err := h.expand(v)
		if err != nil {
			return HostConfig{}, fmt.Errorf("-i %s: %w", v, err)
		}
		h.IdentityFiles = append(h.IdentityFiles, p)
	}
	for _, key := range []string{"IdentityFile", "CertificateFile"} {
		for _, v := range s.vals[key] {
			v = firstWord(v)
			if strings.EqualFold(v, "none") {
				continue
			}
			p, err := expand(key, v)
			if err != nil {
				return HostConfig{}, err
			}
			if key == "IdentityFile" {
				h.IdentityFiles = append(h.IdentityFiles, p)
			} else {
				h.CertificateFiles = append(h.CertificateFiles, p)
			}
		}
	}
	if _, set := s.vals["IdentityFile"]; !set && len(o.IdentityFiles) == 0 {
		if home, err := os.UserHomeDir(); err == nil {
			for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				p := filepath.Join(home, ".ssh", name)
				if _, err := os.Stat(p); err == nil {
					h.IdentityFiles = append(h.IdentityFiles, p)
				}
			}
		}
	}
	if v, ok := s.get("IdentityAgent"); ok {
		switch {
		case strings.EqualFold(v, "none"):
			h.IdentityAgent = ""
		case v == "SSH_AUTH_SOCK":
		case strings.HasPrefix(v, "$"):
			h.IdentityAgent = os.Getenv(strings.Trim(v[1:], "{}"))
		default:
			p, err := expand("IdentityAgent", firstWord(v))
			if err != nil {
				return HostConfig{}, err
			}
			h.IdentityAgent = p
		}
	}
	// Never known_hosts files relative to the current directory: without
	// a home directory there are no user files, without ProgramData no
	// global file on Windows.
	h.UserKnownHostsFiles, h.GlobalKnownHostsFiles = nil, nil
	if home := homeDir(); home != "" {
		h.UserKnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts"), filepath.Join(home, ".ssh", "known_hosts2")}
	}
	if runtime.GOOS != "windows" {
		h.GlobalKnownHostsFiles = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
	} else if pd := os.Getenv("ProgramData"); pd != "" && filepath.IsAbs(pd) {
		h.GlobalKnownHostsFiles = []string{filepath.Join(pd, "ssh", "ssh_known_hosts")}
	}
	for _, kf := range []struct {
		key string
		dst *[]string
	}{
		{"UserKnownHostsFile", &h.UserKnownHostsFiles},
		{"GlobalKnownHostsFile", &h.GlobalKnownHostsFiles},
	} {
		key, dst := kf.key, kf.dst
		v, ok := s.get(key)
		if !ok {
			continue
		}
		words, ok := splitWords(v)
		if !ok || len(words) == 0 {
			return HostConfig{}, bad(key, "one or more file names")
		}
		*dst = nil
		for _, w := range words {
			if strings.EqualFold(w, "none") {
				continue
			}
			p, err := expand(key, w)
			if err != nil {
				return HostConfig{}, err
			}
			*dst = append(*dst, p)
		}
	}
	for _, v := range s.vals["LocalForward"] {
		words, ok := splitWords(v)
		if !ok || len(words) != 2 {
			return HostConfig{}, fmt.Errorf("%s: LocalForward %q: want [bind_address:]port host:hostport", s.where["LocalForward"], v)
		}
		h.LocalForwards = append(h.LocalForwards, words[0]+":"+words[1])
	}
	return h, nil
}

// homeDir returns the user's home directory: $HOME (%USERPROFILE% on
// Windows), else the account's, else "" (never a relative path).
func homeDir() string {
	if home, err := os.UserHomeDir(); err == nil && filepath.IsAbs(home) {
		return home
	}
	if u, err := user.Current(); err == nil && filepath.IsAbs(u.HomeDir) {
		return u.HomeDir
	}
	return ""
}

// firstWord returns the first word of an ssh_config value.
func firstWord(v string) string {
	words, ok := splitWords(v)
	if !ok || len(words) == 0 {
		return strings.TrimSpace(v)
	}
	return words[0]
}

// configTime parses an ssh_config time: seconds, or a sum of numbers
// with the units s, m, h, d and w, as ssh's convtime, which refuses a
// total over 2^31-1 seconds (about 68 years).
func configTime(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	var total int64 // seconds
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, errors.New("bad time")
		}
		n, _ := strconv.ParseInt(s[:i], 10, 64)
		unit := int64(1)
		s = s[i:]
		if s != "" {
			switch s[0] | 0x20 {
			case 's':
			case 'm':
				unit = 60
			case 'h':
				unit = 60 * 60
			case 'd':
				unit = 24 * 60 * 60
			case 'w':
				unit = 7 * 24 * 60 * 60
			default:
				return 0, errors.New("bad unit")
			}
			s = s[1:]
		}
		// n < 10^9 and unit < 10^6: no int64 overflow here.
		if total += n * unit; total > math.MaxInt32 {
			return 0, errors.New("time too large")
		}
	}
	return time.Duration(total) * time.Second, nil
}

// expand expands a leading ~, ${VAR} and the %-tokens ssh expands in file
// names: %% %d %h %i %l %n %p %r %u.
func (h *HostConfig) expand(p string) (string, error) {
	home, herr := os.UserHomeDir()
	if strings.HasPrefix(p, "~") {
		rest := p[1:]
		if rest == "" || rest[0] == '/' || runtime.GOOS == "windows" && rest[0] == '\\' {
			if herr != nil {
				return "", herr
			}
			p = home + rest
		} else {
			name, tail, _ := strings.Cut(rest, "/")
			u, err := user.Lookup(name)
			if err != nil {
				return "", fmt.Errorf("no user %q", name)
			}
			p = filepath.Join(u.HomeDir, tail)
		}
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '$' && i+1 < len(p) && p[i+1] == '{':
			end := strings.IndexByte(p[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", p)
			}
			name := p[i+2 : i+end]
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable %q is not set", name)
			}
			b.WriteString(v)
			i += end
		case c == '%' && i+1 < len(p):
			i++
			switch p[i] {
			case '%':
				b.WriteByte('%')
			case 'd':
				b.WriteString(home)
			case 'h':
				b.WriteString(h.HostName)
			case 'n':
				b.WriteString(h.Alias)
			case 'p':
				b.WriteString(strconv.Itoa(h.Port))
			case 'r':
				b.WriteString(h.User)
			case 'u', 'i', 'l':
				v := ""
				switch p[i] {
				case 'u':
					if u, err := user.Current(); err == nil {
						v = u.Username
					}
				case 'i':
					v = strconv.Itoa(os.Getuid())
				case 'l':
					v, _ = os.Hostname()
				}
				b.WriteString(v)
			default:
				return "", fmt.Errorf("unknown token %%%c in %q", p[i], p)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
