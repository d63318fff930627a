package frontend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/sshargv"
	"github.com/knockssh/knockssh/internal/stanza"
)

// Resolved is what ssh will use to reach a destination, as ssh -G prints
// it after reading its config files.
type Resolved struct {
	HostName string
	User     string
	Port     string
	// ProxyCommand and ProxyJump are "" when ssh dials the host itself.
	ProxyCommand string
	ProxyJump    string
	// Sharing reports that the config or command line sets up connection
	// sharing itself: ControlMaster, ControlPath or ControlPersist.
	Sharing bool
	// Quiet is LogLevel QUIET, SILENT (-q) or FATAL, or one so chatty
	// (VERBOSE, DEBUG*) that a progress line would be in its way.
	Quiet bool
	// ConnectTimeout is ssh's ConnectTimeout, 0 for none.
	ConnectTimeout time.Duration
	// Tunnel reports a connection that is not a plain session: -N or
	// SessionType none, -f, forwardings (-L, -R, -D, -w) or -W. A shared
	// master would go to the background with ControlPersist (ssh.c) and
	// end its forwardings when idle, so these are never shared.
	Tunnel bool
}

// Resolve asks ssh (ssh -G with the invocation's options and destination)
// how it would reach inv's destination: HostName and proxies, with Match
// blocks, Include and canonicalization as only ssh evaluates them.
func Resolve(ctx context.Context, sshPath string, inv sshargv.Invocation) (Resolved, error) {
	if inv.Dest < 0 {
		return Resolved{}, errors.New("no destination")
	}
	// The command stays: without it ssh -G -s refuses ("You must specify a
	// subsystem").
	args := append([]string{"-G"}, inv.Args...)
	cmd := exec.CommandContext(ctx, sshPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdin = nil
	out, err := cmd.Output()
	if err != nil {
		// The last line that is not -v's chatter says what is wrong.
		var msg string
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "debug") && !strings.HasPrefix(line, "OpenSSH_") {
				msg = line
			}
		}
		return Resolved{}, fmt.Errorf("%s -G %s: %w: %s", filepath.Base(sshPath), inv.Alias, err, msg)
	}
	return parseG(out), nil
}

// parseG reads ssh -G's "keyword value" lines.
func parseG(out []byte) Resolved {
	r := Resolved{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), " ")
		switch strings.ToLower(key) {
		case "hostname":
			r.HostName = val
		case "user":
			r.User = val
		case "port":
			r.Port = val
		case "controlmaster":
			r.Sharing = r.Sharing || !strings.EqualFold(val, "false") && !strings.EqualFold(val, "no")
		case "controlpath":
			r.Sharing = r.Sharing || !strings.EqualFold(val, "none")
		case "controlpersist":
			r.Sharing = r.Sharing || !strings.EqualFold(val, "no")
		case "loglevel":
			// -q prints as SILENT; LogLevel QUIET and FATAL say as much;
			// VERBOSE and DEBUG print lines that would break into the
			// progress line.
			l := strings.ToUpper(val)
			r.Quiet = l == "QUIET" || l == "SILENT" || l == "FATAL" || l == "VERBOSE" || strings.HasPrefix(l, "DEBUG")
		case "connecttimeout":
			if n, err := strconv.Atoi(val); err == nil && n > 0 {
				r.ConnectTimeout = time.Duration(n) * time.Second
			}
		case "sessiontype":
			r.Tunnel = r.Tunnel || strings.EqualFold(val, "none")
		case "forkafterauthentication":
			r.Tunnel = r.Tunnel || strings.EqualFold(val, "yes")
		case "tunnel":
			r.Tunnel = r.Tunnel || !strings.EqualFold(val, "false") && !strings.EqualFold(val, "no")
		case "localforward", "remoteforward", "dynamicforward":
			r.Tunnel = true
		case "proxycommand":
			if !strings.EqualFold(val, "none") {
				r.ProxyCommand = val
			}
		case "proxyjump":
			if !strings.EqualFold(val, "none") {
				r.ProxyJump = val
			}
		}
	}
	return r
}

// A Wrapper turns an ssh command line into the one knockssh runs: the
// user's arguments unchanged, with knockssh --proxy as the ProxyCommand when
// a knock stanza applies to the destination.
type Wrapper struct {
	// SSH is the ssh program.
	SSH string
	// Self is the knockssh program that ssh runs as its ProxyCommand.
	Self string
	// Config is --config: the only knock config read, when set.
	Config string
	// SSHConfig is --ssh-config: the ssh config whose Knock* lines are read
	// when ssh's own -F does not name one.
	SSHConfig string
	// Verbose makes the ProxyCommand print the knock timeline, as ssh's
	// own -v in the arguments does.
	Verbose bool
	// Warn receives warnings (a config readable by others, say).
	Warn func(string)
	// Progress is the ProxyCommand's --progress (always or never; "" for
	// its own choice): the wrapper knows whether its stderr is a terminal,
	// which the ProxyCommand of a shared connection cannot see. -q and
	// LogLevel QUIET make it never.
	Progress string
}

// A Plan is what the wrapper runs: ssh's command line, and the connection
// sharing to set up around it, if any.
type Plan struct {
	Argv  []string
	Share *Share
}

// Command returns the plan for ssh's args (without the program name): ssh
// with a knocking ProxyCommand when a stanza applies, and connection
// sharing unless the stanza or the user's config says otherwise; when no
// stanza applies, or when ssh opens no new connection (-G, -V, -Q) or
// cannot parse the arguments, ssh with args untouched. -O gets the
// ControlPath of the shared connection.
func (w Wrapper) Command(ctx context.Context, args []string) (Plan, error) {
	plain := Plan{Argv: append([]string{w.SSH}, args...)}
	inv, err := sshargv.ScanInstalled(ctx, w.SSH, args)
	if err != nil || inv.Dest < 0 || inv.NoConnect && inv.Control == "" {
		return plain, nil // ssh says what is wrong, or needs no knock
	}
	sshConfig := inv.ConfigFile
	if sshConfig == "" {
		sshConfig = w.SSHConfig
	}
	st, found, err := stanza.Lookup(inv.Alias, stanza.Files(w.Config, sshConfig), w.Warn)
	if inv.Control != "" { // ssh -O check|exit|stop|...: the master's socket
		if err != nil || !found || st.Share < 0 || !shareSupported || userShares(inv) {
			return plain, nil // -O exit works whatever the knock config says
		}
		r, err := Resolve(ctx, w.SSH, inv)
		if err != nil || r.Sharing {
			return plain, nil
		}
		s, err := newShare(r, st.Share)
		if err != nil {
			return plain, nil
		}
		return Plan{Argv: append([]string{w.SSH, "-o", "ControlPath=" + s.Socket}, args...)}, nil
	}
	if err != nil {
		return Plan{}, err
	}
	if !found {
		return plain, nil
	}
	if err := CheckHostname(inv.Alias); err != nil {
		return Plan{}, err
	}
	var viaArgs string
	if v, ok := inv.Option("ProxyCommand"); ok && !strings.EqualFold(v, "none") {
		if stanza.IsProxyCommand(v) {
			return plain, nil // the command line already knocks
		}
		viaArgs = "ProxyCommand " + v
	} else if inv.JumpHosts != "" && !strings.EqualFold(inv.JumpHosts, "none") {
		viaArgs = "ProxyJump " + inv.JumpHosts
	}
	var share *Share
	var timeout time.Duration
	if viaArgs == "" {
		r, err := Resolve(ctx, w.SSH, inv)
		if err != nil {
			return Plan{}, err
		}
		if r.Quiet {
			w.Progress = "never"
		}
		timeout = WrapperTimeout(r.ConnectTimeout, st.Config.Budget())
		if st.Share >= 0 && shareSupported && !r.Sharing && !r.Tunnel && !userShares(inv) {
			if share, err = newShare(r, st.Share); err != nil {
				w.Warn("not sharing the connection: " + err.Error())
				share = nil
			}
		}
		switch {
		case stanza.IsProxyCommand(r.ProxyCommand):
			// The user's ssh config already knocks for this host.
			return plain, nil
		case r.ProxyCommand != "":
			viaArgs = "ProxyCommand " + r.ProxyCommand
		case r.ProxyJump != "":
			viaArgs = "ProxyJump " + r.ProxyJump
		}
	}
	if viaArgs != "" {
		return Plan{}, &ProxiedError{Alias: inv.Alias, Via: viaArgs}
	}
	w.Verbose = w.Verbose || inv.Verbose > 0
	log := ""
	if share != nil && inv.Verbose == 0 {
		share.Log = fmt.Sprintf("%s.%d.log", share.Socket, os.Getpid())
		log = share.Log
	}
	argv := []string{w.SSH, "-o", "ProxyCommand=" + w.proxyCommand(sshConfig, log)}
	if timeout > 0 { // before the user's arguments: the first -o wins
		argv = append(argv, "-o", fmt.Sprintf("ConnectTimeout=%d", int(timeout/time.Second)))
	}
	if share != nil {
		argv = append(argv, share.Args()...)
	}
	return Plan{Argv: append(argv, args...), Share: share}, nil
}

// WrapperTimeout returns the ConnectTimeout the wrapper gives ssh for a
// host whose own is timeout (0 for none) and whose knock takes budget at
// most (knocker.Config.Budget): with a ProxyCommand, ssh's
// ConnectTimeout also bounds the wait for the server's banner, which the
// knock delays, so the knock's time goes on top, rounded up to whole
// seconds as ssh takes them; 0 when there is no timeout.
func WrapperTimeout(timeout, budget time.Duration) time.Duration {
	if timeout <= 0 {
		return 0
	}
	return (timeout + budget + time.Second - 1).Truncate(time.Second)
}

// userShares reports ssh options on the command line that set up sharing:
// -S, -M, or -o ControlMaster, ControlPath or ControlPersist (ssh -G
// prints "ControlMaster no" as it prints the default, so it is read here).
func userShares(inv sshargv.Invocation) bool {
	for _, k := range []string{"ControlMaster", "ControlPath", "ControlPersist"} {
		if _, ok := inv.Option(k); ok {
			return true
		}
	}
	return inv.Sharing
}

// proxyCommand returns the ProxyCommand line that runs w.Self --proxy for
// the host ssh connects to; sshConfig is ssh's -F file, if any, where the
// proxy also looks for Knock* keywords; log, when set, is the proxy's --log.
func (w Wrapper) proxyCommand(sshConfig, log string) string {
	var b strings.Builder
	b.WriteString(percentQuote(w.Self))
	b.WriteString(" --proxy")
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	if w.Config != "" {
		b.WriteString(" --config " + percentQuote(abs(w.Config)))
	} else if sshConfig != "" {
		b.WriteString(" --ssh-config " + percentQuote(abs(sshConfig)))
	}
	if w.Verbose {
		b.WriteString(" -v")
	}
	if log != "" {
		b.WriteString(" --log " + percentQuote(log))
	}
	if w.Progress != "" && !w.Verbose {
		b.WriteString(" --progress " + w.Progress)
	}
	// ssh's ConnectTimeout has the knock's time on top (WrapperTimeout):
	// no need to answer for the server, and a string the server has
	// changed since costs no connection.
	b.WriteString(" --early-banner no -- %n %h %p")
	return b.String()
}

// CheckHostname refuses a destination ssh would expand unquoted into the
// ProxyCommand's shell command line: OpenSSH before 9.6 passes shell
// metacharacters in %n through (CVE-2023-51385), and knockssh must not
// bring that back by adding a ProxyCommand. The wrapper refuses such a
// destination when a stanza applies to it.
func CheckHostname(alias string) error {
	bad := strings.HasPrefix(alias, "-") || strings.ContainsAny(alias, "'`\"$\\;&<>|(){}") // as ssh 9.6
	for _, r := range alias {
		if r <= ' ' || r == 0x7f {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("destination %.60q holds characters a shell would interpret: refusing to pass it to a ProxyCommand", alias)
	}
	return nil
}

// percentQuote quotes s as one word of a ProxyCommand (shellQuote is per
// platform), after ssh's % expansion.
func percentQuote(s string) string {
	return strings.ReplaceAll(shellQuote(s), "%", "%%")
}

// A ProxiedError is a host with a knock stanza that ssh reaches through a
// proxy of its own: the knocks would leave from this machine and the
// connection from the proxy.
type ProxiedError struct {
	Alias string // the host
	Via   string // the proxy: "ProxyCommand ..." or "ProxyJump ..."
}

// Error names the host and its proxy.
func (e *ProxiedError) Error() string {
	return fmt.Sprintf("%s has a knock stanza, but ssh reaches it through %.60s: the knocks would leave from this machine and the connection from the proxy", e.Alias, e.Via)
}

// Hint says where the stanza belongs.
func (e *ProxiedError) Hint() string {
	return `give the knock stanza to the first host ssh dials itself (for a ProxyJump host, with "ProxyCommand knockssh --proxy %n %h %p" in its ssh config), or remove the proxy`
}

// FindSSH returns the ssh program: $KNOCKSSH_SSH when set, else ssh on
// $PATH.
func FindSSH() (string, error) {
	if p := os.Getenv("KNOCKSSH_SSH"); p != "" {
		lp, err := exec.LookPath(p) // exec does not search PATH
		if err != nil {
			return "", fmt.Errorf("$KNOCKSSH_SSH: %w", err)
		}
		return lp, nil
	}
	p, err := exec.LookPath("ssh")
	if err != nil {
		return "", &hintError{fmt.Errorf("no ssh program found on PATH: %w", err), "install OpenSSH's client, set KNOCKSSH_SSH, or use --native or --knock"}
	}
	return p, nil
}

// A hintError is an error with a hint for the user.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }
