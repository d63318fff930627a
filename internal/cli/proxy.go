package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/knockssh/knockssh/internal/frontend"
	"github.com/knockssh/knockssh/knocker"
)

// proxy is --proxy ALIAS HOST PORT (or HOST PORT).
func proxy(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	stderr := s.err
	if o.log != "" {
		// The wrapper's file for what ssh would send to /dev/null (with
		// ControlPersist); it made the file, so a missing one is not ours.
		if f, err := os.OpenFile(o.log, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			defer f.Close()
			stderr = io.MultiWriter(stderr, f)
		}
	}
	a, ok := proxyArgs(fs, o, stderr)
	if !ok {
		return exitUsage
	}
	con := &console{w: stderr}
	p, err := frontend.NewProxy(a[0], a[1], a[2], o.files(), s.out, con.warn)
	if err != nil {
		printErr(stderr, err)
		return exitFail
	}
	trace := con.tracer(o, a[0])
	if o.verbose || o.knockVerbose {
		p.Debug = func(s string) { con.printf("%s", s) }
	}
	if o.earlyBanner == "yes" && !con.answerEarly(p) {
		return exitFail // ssh has gone
	}
	conn, ok := con.dial(ctx, p, a[0], trace)
	if !ok {
		return exitFail
	}
	var head frontend.Head
	if p.Learns() {
		head = p.Head
	}
	if err := frontend.Relay(conn, s.in, s.out, head); err != nil {
		if errors.As(err, new(*frontend.IdentError)) {
			printErr(stderr, err)
		} else {
			fmt.Fprintf(stderr, "knockssh: relay: %v\n", err)
		}
		return exitFail
	}
	return exitOK
}

// proxyArgs returns --proxy's ALIAS HOST PORT; ok is false, with the
// usage error printed, when they or its options are not right.
func proxyArgs(fs *pflag.FlagSet, o *options, stderr io.Writer) (a []string, ok bool) {
	a = fs.Args()
	if len(a) == 2 {
		a = []string{a[0], a[0], a[1]}
	}
	if len(a) != 3 {
		io.WriteString(stderr, "knockssh: --proxy takes ALIAS HOST PORT, as in \"ProxyCommand knockssh --proxy %n %h %p\"\n")
		return nil, false
	}
	if o.earlyBanner != "yes" && o.earlyBanner != "no" {
		fmt.Fprintf(stderr, "knockssh: --early-banner takes yes or no, not %q\n", o.earlyBanner)
		return nil, false
	}
	return a, true
}

// answerEarly gives ssh the server's identification string learned
// before, when p learns one, or says that none is learned yet; it
// reports false when ssh has gone.
func (c *console) answerEarly(p *frontend.Proxy) bool {
	answered, err := p.AnswerEarly()
	if err != nil {
		return false
	}
	if st := p.Stanza(); !answered && p.Learns() {
		first, budget := knockTimes(st.Config)
		c.printf("no identification string learned for %s yet: if ssh's ConnectTimeout is shorter than the knock (%v, %v with retries), %s", printable(p.Target()), first, budget, firstOutcome)
	}
	return true
}

// firstOutcome is what comes of a first connection that ssh gives up. On
// Unix ssh ends its ProxyCommand with SIGHUP, which lets the knock go on
// and learn; Win32-OpenSSH's kill is TerminateProcess
// (contrib/win32/win32compat/signal_sigchld.c, w32_kill).
var firstOutcome = map[bool]string{
	false: "this first connection times out; the next one will not",
	true:  "this first connection times out before it can learn the string (Win32-OpenSSH ends its ProxyCommand at once): connect once with a longer ConnectTimeout, or none",
}[runtime.GOOS == "windows"]

// dial knocks on alias, when p says, and connects, watching for signals
// meanwhile; ok is false when there is no connection to relay, with the
// reason printed. When ssh gave up during the knock, the connection only
// teaches the server's identification string.
func (c *console) dial(ctx context.Context, p *frontend.Proxy, alias string, trace func(knocker.Event)) (conn net.Conn, ok bool) {
	w := c.watch(ctx, p, printable(alias))
	conn, err := p.Dial(w.ctx, trace)
	hungUp, stopped := w.stop()
	c.clear()
	switch {
	case err != nil && (hungUp || stopped):
		return nil, false // said when the signal came, or interrupted
	case err != nil:
		printErr(c.w, err)
		return nil, false
	case stopped:
		conn.Close()
		return nil, false
	case hungUp:
		p.Head(conn)
		conn.Close()
		return nil, false
	}
	return conn, true
}

// knockTimes returns how long a knock as cfg says takes: the first
// attempt, and with every retry.
func knockTimes(cfg knocker.Config) (first, budget time.Duration) {
	cfg = cfg.WithDefaults()
	return firstAttempt(cfg), cfg.Budget()
}

// A console is the proxy's stderr, which the knock's progress line (or
// timeline) and the line a signal prints share, one at a time. Once ssh
// has gone, the terminal is the shell's again: the knock shows no more.
type console struct {
	mu   sync.Mutex
	w    io.Writer
	prog *progress
	gone bool
}

// printf prints one "knockssh: " line, the progress line cleared first.
func (c *console) printf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prog.clear()
	fmt.Fprintf(c.w, "knockssh: "+format+"\n", a...)
}

// warn prints a warning.
func (c *console) warn(s string) { c.printf("warning: %s", s) }

// clear removes the progress line.
func (c *console) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prog.clear()
}

// tracer returns the knock's trace for host: the timeline with -v or
// --knock-verbose, else the progress line (when o.progress says), else
// nil.
func (c *console) tracer(o *options, host string) func(knocker.Event) {
	var show func(knocker.Event)
	if o.verbose || o.knockVerbose {
		show = tracer(c.w)
	} else if c.prog = newProgress(o.progress, c.w, host); c.prog != nil {
		show = c.prog.event
	} else {
		return nil
	}
	return func(e knocker.Event) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.gone {
			show(e)
		}
	}
}

// A dialWatch acts on the signals that come during the knock: ssh's
// SIGHUP (it ends its ProxyCommand so when it gives up) and an interrupt.
type dialWatch struct {
	ctx     context.Context
	cancel  context.CancelFunc
	sigs    chan os.Signal
	done    chan struct{}
	c       *console
	dialing bool // under c.mu
	hungUp  bool // ssh hung up during the knock, which goes on to learn
	stopped bool // the knock was stopped: an interrupt, or ssh hung up
}

// watch watches for signals during p's knock on alias. ctx is the
// process's, which every signal cancels; the knock gets a context of its
// own, w.ctx, which an interrupt cancels, and ssh's SIGHUP unless the
// knock goes on to learn the server's identification string.
func (c *console) watch(ctx context.Context, p *frontend.Proxy, alias string) *dialWatch {
	w := &dialWatch{sigs: make(chan os.Signal, 1), done: make(chan struct{}), c: c, dialing: true}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	signal.Notify(w.sigs, os.Interrupt, syscall.SIGHUP, syscall.SIGTERM)
	if ctx.Err() != nil { // a signal came before
		w.stopped = true
		w.cancel()
	}
	go func() {
		for {
			select {
			case s := <-w.sigs:
				w.signal(s, p, alias)
			case <-w.done:
				return
			}
		}
	}()
	return w
}

// signal acts on s during the knock.
func (w *dialWatch) signal(s os.Signal, p *frontend.Proxy, alias string) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if !w.dialing || w.stopped || s == syscall.SIGHUP && w.hungUp {
		return
	}
	if s == syscall.SIGHUP {
		p.HangUp()
		w.c.prog.clear()
		w.c.gone = true
	}
	if s != syscall.SIGHUP || p.Stanza() == nil {
		w.stopped = true
		w.cancel()
		return
	}
	msg, goOn := hangUpLine(p, alias)
	fmt.Fprintf(w.c.w, "knockssh: %s\n", msg)
	if goOn {
		w.hungUp = true
		detach()
	} else {
		w.stopped = true
		w.cancel()
	}
}

// hangUpLine says why ssh hung up during p's knock on alias, and whether
// the knock goes on: to learn the server's identification string, when
// none was learned before.
func hangUpLine(p *frontend.Proxy, alias string) (string, bool) {
	first, budget := knockTimes(p.Stanza().Config)
	times := fmt.Sprintf("%v, %v with retries", first, budget)
	switch {
	case p.Answers() && !p.Early():
		return fmt.Sprintf("ssh gave up before the knock on %s was through (%s): knockssh finishes it to learn %s's identification string, so that the next connection does not wait for the knock", alias, times, printable(p.Target())), true
	case p.Early():
		return fmt.Sprintf("ssh hung up during the knock on %s (%s) although it had the identification string learned before: a ServerAliveInterval × ServerAliveCountMax shorter than the knock ends it too", alias, times), false
	}
	return fmt.Sprintf("ssh gave up during the knock on %s (%s): its ConnectTimeout must be longer than the knock, or none", alias, times), false
}

// stop ends the watch, the knock over: it reports whether ssh hung up
// with the knock going on, and whether a signal stopped it.
func (w *dialWatch) stop() (hungUp, stopped bool) {
	w.c.mu.Lock()
	w.dialing = false
	hungUp, stopped = w.hungUp, w.stopped
	w.c.mu.Unlock()
	signal.Stop(w.sigs)
	close(w.done)
	return hungUp, stopped
}
