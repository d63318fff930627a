package sshclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/knockssh/knockssh/knocker"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// exitConnection is ssh's exit status for a failure of its own.
const exitConnection = 255

// Command runs ssh command lines with the native client, as "knockssh
// --native" does: no ssh program is needed.
type Command struct {
	// KnockConfig is knockssh's --config: the only knock config read.
	KnockConfig string
	// KnockVerbose prints the knock timeline (as ssh's -v does).
	KnockVerbose bool
	// Stdin, Stdout and Stderr are the session's streams; an interactive
	// session needs Stdin to be the terminal.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Warn receives warnings: about the knock configs, and a -L
	// forwarding that cannot listen. Nil writes them to Stderr.
	Warn func(string)
	// Trace receives the knock timeline when KnockVerbose or ssh's -v
	// asks for it. Nil writes it to Stderr.
	Trace func(knocker.Event)
}

// Run runs ssh's args (without the program name): connects to the
// destination, knocking when a stanza applies, and runs the command, a
// shell, or only the forwardings (-N). It returns the exit status: the
// remote command's, or 255 when the connection fails or is interrupted,
// as ssh; with 255 it may return an error, for the caller to report.
// Nothing it starts (forwardings, keepalives) outlives it. A nil Stderr
// discards the messages ssh would print itself (banners, debug lines).
func (n *Command) Run(ctx context.Context, args []string) (status int, err error) {
	// Cancelled on return: it stops the -L listeners, their connections
	// and the keepalives.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nn := *n
	n = &nn
	if n.Stderr == nil {
		n.Stderr = io.Discard
	}
	if n.Warn == nil {
		n.Warn = func(s string) { fmt.Fprintf(n.Stderr, "warning: %s\n", s) }
	}
	if n.Trace == nil {
		n.Trace = func(e knocker.Event) { fmt.Fprintf(n.Stderr, "%v\n", e) }
	}
	fail := func(err error) (int, error) { return exitConnection, err }
	a, err := parseNativeArgs(args)
	if err != nil {
		return fail(err)
	}
	o := a.opts
	o.KnockConfig, o.Stderr, o.Warn = n.KnockConfig, n.Stderr, n.Warn
	if a.inv.Verbose > 0 {
		o.debug = func(format string, args ...any) {
			fmt.Fprintf(n.Stderr, "debug1: "+format+"\n", args...)
		}
	}
	if n.KnockVerbose || a.inv.Verbose > 0 {
		o.Trace = n.Trace
	}
	h, err := ResolveHost(a.inv.Alias, &o)
	if err != nil {
		return fail(err)
	}
	h.LocalForwards = append(a.forwards, h.LocalForwards...)
	o.Prompt = terminalPrompt

	// ttyIn is stdin when it is a terminal, else nil.
	ttyIn, _ := n.Stdin.(*os.File)
	if ttyIn != nil && !term.IsTerminal(int(ttyIn.Fd())) {
		ttyIn = nil
	}
	stdinTTY := ttyIn != nil
	command := strings.Join(a.inv.Command, " ")
	mode := h.RequestTTY
	switch {
	case a.noTTY || a.noCommand:
		mode = "no"
	case a.tty >= 2:
		mode = "force"
	case a.tty == 1:
		mode = "yes"
	}
	pty := false
	switch mode {
	case "auto":
		pty = command == "" && stdinTTY
	case "yes":
		pty = stdinTTY
		if !stdinTTY && !o.quiet {
			fmt.Fprintln(n.Stderr, "Pseudo-terminal will not be allocated because stdin is not a terminal.")
		}
	case "force":
		pty = true
	}

	client, err := dialClient(ctx, &h, &o)
	if err != nil {
		return fail(err)
	}
	defer client.Close()
	lost := make(chan string, 1)
	if h.ServerAliveInterval > 0 {
		go keepalive(ctx, client, &h, lost)
	}
	for _, spec := range h.LocalForwards {
		if err := localForward(ctx, client, spec, &o); err != nil {
			if h.ExitOnForwardFailure {
				return fail(err)
			}
			n.Warn(err.Error())
		}
	}
	if a.noCommand {
		closed := make(chan error, 1)
		go func() { closed <- client.Wait() }()
		select {
		case <-ctx.Done():
			return exitConnection, nil // interrupted, as ssh -N
		case msg := <-lost:
			return fail(errors.New(msg))
		case <-closed:
			select {
			case msg := <-lost: // the keepalives closed it
				return fail(errors.New(msg))
			default:
			}
			return exitConnection, nil
		}
	}

	sess, err := client.NewSession()
	if err != nil {
		return fail(err)
	}
	defer sess.Close()
	if !a.nullStdin {
		sess.Stdin = n.Stdin
	}
	sess.Stdout, sess.Stderr = n.Stdout, n.Stderr
	if pty {
		restore, err := startPTY(ctx, cancel, sess, ttyIn, n.Stdout)
		if err != nil {
			return fail(err)
		}
		defer restore()
	}
	if command == "" {
		err = sess.Shell()
	} else {
		o.debugf("Sending command: %s", command)
		err = sess.Start(command)
	}
	if err != nil {
		return fail(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case msg := <-lost:
		client.Close()
		return fail(errors.New(msg))
	case <-ctx.Done():
		// Interrupted: without a PTY, ssh dies of the signal too.
		sess.Signal(ssh.SIGINT)
		client.Close()
		return exitConnection, nil
	}
	if err != nil {
		// The keepalives closed the connection: say so, not how the
		// session ended.
		select {
		case msg := <-lost:
			return fail(errors.New(msg))
		default:
		}
	}
	if pty && !o.quiet && h.LogLevel != "QUIET" && h.LogLevel != "ERROR" && h.LogLevel != "FATAL" {
		defer fmt.Fprintf(n.Stderr, "Connection to %s closed.\r\n", h.HostName)
	}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.Signal() == "":
		return ee.ExitStatus(), nil
	case errors.As(err, &ee):
		return fail(fmt.Errorf("remote command killed by signal %s", ee.Signal()))
	case errors.As(err, &missing):
		return exitConnection, nil
	}
	return fail(err)
}

// startPTY requests a PTY of the terminal's size, puts the terminal in
// raw mode (on Windows also VT output, and VT input, which x/term's
// MakeRaw sets) and forwards its size changes; restore undoes both. A
// terminating signal (SIGTERM, SIGHUP, SIGQUIT) calls cancel, so that Run
// returns through restore instead of dying with the terminal raw. stdin
// is nil unless it is a terminal.
func startPTY(ctx context.Context, cancel func(), sess *ssh.Session, stdin *os.File, stdout io.Writer) (restore func(), err error) {
	vt, restoreVT := consoleVT(stdout)
	defer func() {
		if err != nil {
			restoreVT()
		}
	}()
	termName := chooseTerm(os.Getenv("TERM"), vt)
	w, h := 80, 24
	fd := -1
	if stdin != nil {
		fd = int(stdin.Fd())
	} else if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd = int(f.Fd())
	}
	if fd >= 0 {
		if cw, ch, err := term.GetSize(fd); err == nil && cw > 0 && ch > 0 {
			w, h = cw, ch
		}
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty(termName, h, w, modes); err != nil {
		return nil, fmt.Errorf("PTY allocation request failed: %w", err)
	}
	restore = restoreVT
	if stdin != nil {
		old, err := term.MakeRaw(int(stdin.Fd()))
		if err != nil {
			return nil, err
		}
		stopSignals := notifyTerminate(cancel)
		restore = func() {
			stopSignals()
			term.Restore(int(stdin.Fd()), old)
			restoreVT()
		}
	}
	if fd >= 0 {
		stop := watchWindow(ctx, func() {
			if cw, ch, err := term.GetSize(fd); err == nil && (cw != w || ch != h) {
				w, h = cw, ch
				sess.WindowChange(h, w)
			}
		})
		prev := restore
		restore = func() { stop(); prev() }
	}
	return restore, nil
}

// chooseTerm is the TERM a PTY is requested with: the environment's (env),
// else xterm-256color where the console was made to interpret VT sequences
// (vt: Windows Terminal, and conhost with ENABLE_VIRTUAL_TERMINAL_PROCESSING,
// which Win32-OpenSSH's ssh calls xterm-256color too), else vt100.
func chooseTerm(env string, vt bool) string {
	switch {
	case env != "":
		return env
	case vt:
		return "xterm-256color"
	}
	return "vt100"
}

// keepalive sends keepalive@openssh.com every ServerAliveInterval and
// reports on lost when ServerAliveCountMax intervals in a row pass with
// the last one unanswered, until ctx is done.
func keepalive(ctx context.Context, client *ssh.Client, h *HostConfig, lost chan<- string) {
	t := time.NewTicker(h.ServerAliveInterval)
	defer t.Stop()
	answered := make(chan error, 1)
	outstanding, missed := false, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if outstanding {
			select {
			case err := <-answered:
				if err != nil {
					return // the connection is gone: the session says so
				}
				outstanding, missed = false, 0
			default:
				if missed++; missed >= max(h.ServerAliveCountMax, 1) {
					lost <- fmt.Sprintf("timeout, server %s not responding", h.HostName)
					client.Close()
					return
				}
				continue
			}
		}
		outstanding = true
		go func() {
			_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
	}
}

// localForward listens as a -L specification says and forwards each
// connection through the client.
func localForward(ctx context.Context, client *ssh.Client, spec string, o *Options) error {
	f, err := parseForward(spec)
	if err != nil {
		return fmt.Errorf("LocalForward %s: %w", spec, err)
	}
	binds := []string{"127.0.0.1", "::1"}
	if f.bindWasGiven {
		switch f.bind {
		case "", "*":
			binds = []string{""}
		case "localhost":
		default:
			binds = []string{f.bind}
		}
	}
	target := net.JoinHostPort(f.host, strconv.Itoa(f.hostPort))
	var lc net.ListenConfig
	listening := 0
	var lastErr error
	for _, b := range binds {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(b, strconv.Itoa(f.port)))
		if err != nil {
			lastErr = err
			continue
		}
		listening++
		o.debugf("Local forwarding listening on %s, to %s.", ln.Addr(), target)
		go func() {
			<-ctx.Done()
			ln.Close()
		}()
		go func() {
			defer ln.Close()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					r, err := client.Dial("tcp", target)
					if err != nil {
						o.debugf("channel: open to %s failed: %v", target, err)
						return
					}
					defer r.Close()
					pipe(ctx, c, r)
				}()
			}
		}()
	}
	if listening == 0 {
		return fmt.Errorf("could not request local forwarding %s: %w", spec, lastErr)
	}
	return nil
}

// pipe copies both ways between a and b until both directions are done.
// A direction that ends with EOF closes the write side of its
// destination, as ssh half-closes a forwarded socket; one that fails, or
// ctx being done, closes a and b both, so that the other direction ends
// too.
func pipe(ctx context.Context, a, b net.Conn) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			a.Close()
			b.Close()
		})
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil {
			closeBoth()
			return
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); !ok || cw.CloseWrite() != nil {
			closeBoth()
		}
	}
	wg.Add(2)
	go half(a, b)
	go half(b, a)
	wg.Wait()
}

// terminalPrompt asks on the terminal (/dev/tty), never echoing a secret,
// as ssh does. It fails when there is no terminal.
func terminalPrompt(question string, echo bool) (string, error) {
	in, out, err := openTTY()
	if err != nil {
		return "", fmt.Errorf("no terminal to ask on: %w", err)
	}
	defer in.Close()
	if out != in {
		defer out.Close()
	}
	io.WriteString(out, question)
	if !echo {
		b, err := term.ReadPassword(int(in.Fd()))
		io.WriteString(out, "\n")
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	var line []byte
	buf := make([]byte, 1)
	for {
		n, err := in.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			line = append(line, buf[0])
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				break
			}
			return "", err
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// notifyTerminate calls cancel on one of terminateSignals, until stop.
func notifyTerminate(cancel func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, terminateSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
