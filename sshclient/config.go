package sshclient

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/sshconfig"
	"github.com/knockssh/knockssh/internal/stanza"
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
	// IdentityAgent is the agent's socket: $SSH_AUTH_SOCK by default (on
	// Windows, when unset, Win32-OpenSSH's pipe \\.\pipe\openssh-ssh-agent),
	// "" for none. On Windows a name \\.\pipe\NAME or //./pipe/NAME is a
	// named pipe.
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
	kw, rest, ok := sshconfig.SplitLine(line)
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
			switch strings.ToLower(sshconfig.FirstWord(rest)) {
			case "no", "none", "false":
				return nil
			}
		}
		return unsupported("-o " + kw)
	}
	if key == "ProxyCommand" || key == "ProxyJump" {
		if strings.EqualFold(strings.TrimSpace(rest), "none") || stanza.IsProxyCommand(rest) {
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

// Error says what is not supported.
func (e *UnsupportedError) Error() string {
	if e.What != "" {
		return fmt.Sprintf("the native client does not support %s (%s)", e.Option, e.What)
	}
	return fmt.Sprintf("the native client does not support %s", e.Option)
}

// Hint says what to use instead.
func (e *UnsupportedError) Hint() string { return "use the system ssh" }

func unsupported(option string) error { return &UnsupportedError{Option: option} }

// sshFile is one ssh config file to read for the native client.
type sshFile struct {
	path     string
	optional bool
	system   bool // relative Include paths are under /etc/ssh
	// given: the -F file, whose permissions ssh does not check (only
	// those of the files it includes).
	given bool
}

// sshConfigFiles returns the ssh configs read for configFile (ssh's -F).
func sshConfigFiles(configFile string) []sshFile {
	switch {
	case strings.EqualFold(configFile, "none"):
		return nil
	case configFile != "":
		return []sshFile{{path: configFile, given: true}}
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

// read records in s the values of the native keywords that apply to alias
// in f, and in the files it includes. Match blocks are skipped, as for the
// knock stanzas; warnMatch is told of the first native keyword (or
// Include) in one.
func (s *settings) read(alias string, f sshFile, warnMatch func(string)) error {
	w := &sshconfig.Walker{Alias: alias}
	if f.system {
		w.IncludeDir = "/etc/ssh"
		if runtime.GOOS == "windows" {
			w.IncludeDir = filepath.Dir(f.path)
		}
	} else if home := sshconfig.Home(); home != "" {
		w.IncludeDir = filepath.Join(home, ".ssh")
	}
	// As ssh (readconf.c), the user's config and every included file
	// must be the user's or root's and writable by no one else.
	top := true
	w.Check = func(path string, fi fs.FileInfo) error {
		if top {
			top = false
			if f.system || f.given {
				return nil
			}
		}
		return sshconfig.CheckSSHConfig(path, fi)
	}
	return w.Walk(f.path, f.optional, func(l sshconfig.Line) error {
		key, ok := nativeKeywords[strings.ToLower(l.Key)]
		switch {
		case l.Match != 0:
			if !l.Active {
				return nil
			}
			if strings.EqualFold(l.Key, "include") {
				key, ok = "Include", true
			}
			if ok {
				warnMatch(fmt.Sprintf("Match blocks are not evaluated by the native client; %s at %s ignored", key, l.Where()))
			}
		case !ok:
		case l.Value == "":
			return fmt.Errorf("%s: %s: no value", l.Where(), key)
		case l.Active:
			s.set(key, l.Value, l.Where())
		}
		return nil
	})
}

// ResolveHost returns the settings the native client uses for alias: the
// -o lines of o first, then the ssh config (o.ConfigFile, or
// ~/.ssh/config and the system's ssh_config), first value winning as in
// ssh, with o's User, Port and IdentityFiles on top. It never runs ssh.
func ResolveHost(alias string, o *Options) (HostConfig, error) {
	if o == nil {
		o = &Options{}
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
		if err := s.read(alias, f, warnMatch); err != nil {
			return HostConfig{}, err
		}
	}
	return s.resolve(alias, o)
}

// resolve turns the values found into a HostConfig.
func (s *settings) resolve(alias string, o *Options) (HostConfig, error) {
	h := HostConfig{
		Alias: alias, HostName: alias, Port: 22,
		StrictHostKeyChecking: "ask", IdentityAgent: defaultAgent(runtime.GOOS, os.Getenv("SSH_AUTH_SOCK")),
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
		switch strings.ToLower(sshconfig.FirstWord(v)) {
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
		d, err := sshconfig.Time(sshconfig.FirstWord(v))
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
		n, err := strconv.Atoi(sshconfig.FirstWord(v))
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
		switch strings.ToLower(sshconfig.FirstWord(v)) {
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
		h.AddressFamily = strings.ToLower(sshconfig.FirstWord(v))
		if h.AddressFamily != "any" && h.AddressFamily != "inet" && h.AddressFamily != "inet6" {
			return HostConfig{}, bad("AddressFamily", "any, inet or inet6")
		}
	}
	if v, ok := s.get("RequestTTY"); ok {
		h.RequestTTY = strings.ToLower(sshconfig.FirstWord(v))
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
		h.LogLevel = strings.ToUpper(sshconfig.FirstWord(v))
	}
	for _, key := range []string{"ProxyCommand", "ProxyJump"} {
		if v, ok := s.get(key); ok && !strings.EqualFold(v, "none") && !stanza.IsProxyCommand(v) {
			return HostConfig{}, fmt.Errorf("%s: %w", s.where[key], &UnsupportedError{Option: key, What: "proxies"})
		}
	}
	// The user and port of the command line win over the config files.
	if o.User != "" {
		h.User = o.User
	} else if v, ok := s.get("User"); ok {
		h.User = sshconfig.FirstWord(v)
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
		if h.Port = sshconfig.Port(sshconfig.FirstWord(v)); h.Port <= 0 {
			return HostConfig{}, bad("Port", "a port number from 1 to 65535")
		}
	}
	if v, ok := s.get("HostName"); ok {
		h.HostName = strings.ReplaceAll(strings.ReplaceAll(sshconfig.FirstWord(v), "%h", alias), "%%", "%")
	}
	if v, ok := s.get("HostKeyAlias"); ok {
		h.HostKeyAlias = sshconfig.FirstWord(v)
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
			v = sshconfig.FirstWord(v)
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
			p, err := expand("IdentityAgent", sshconfig.FirstWord(v))
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
	if home := sshconfig.Home(); home != "" {
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
		words, err := sshconfig.Words(v)
		if err != nil || len(words) == 0 {
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
		words, err := sshconfig.Words(v)
		if err != nil || len(words) != 2 {
			return HostConfig{}, fmt.Errorf("%s: LocalForward %q: want [bind_address:]port host:hostport", s.where["LocalForward"], v)
		}
		h.LocalForwards = append(h.LocalForwards, words[0]+":"+words[1])
	}
	return h, nil
}

// expand expands a file name of the config: ~, ${VAR} and the %-tokens
// ssh expands in file names: %% %d %h %i %l %n %p %r %u.
func (h *HostConfig) expand(p string) (string, error) {
	tokens := map[byte]string{
		'd': sshconfig.Home(), 'h': h.HostName, 'n': h.Alias, 'p': strconv.Itoa(h.Port), 'r': h.User,
		'i': strconv.Itoa(os.Getuid()),
	}
	if u, err := user.Current(); err == nil {
		tokens['u'] = u.Username
	}
	tokens['l'], _ = os.Hostname()
	return sshconfig.Expand(p, tokens)
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
