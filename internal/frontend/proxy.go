package frontend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/knockssh/knockssh/internal/stanza"
	"github.com/knockssh/knockssh/knocker"
)

// identTimeout bounds the wait for the server's identification string once
// connected: with the early answer, ssh's ConnectTimeout no longer does.
// sshd sends it at once; a server that has not in this time is not
// answering. (A variable for the tests.)
var identTimeout = 30 * time.Second

// A Proxy is one connection of knockssh --proxy: the TCP connection ssh
// asked its ProxyCommand for, to host and port (ssh's %h and %p), after a
// knock when a stanza applies to alias (ssh's %n, the name the user
// typed); directly when none does, so that one ProxyCommand line can
// serve every host.
//
// With a ProxyCommand, ssh's ConnectTimeout bounds its wait for the
// server's identification string (OpenSSH's kex_exchange_identification),
// which the knock delays. A Proxy that knocks learns the server's string
// from each connection, and [Proxy.AnswerEarly] gives ssh the one learned
// before, so that ssh stops waiting while the knock goes on; [Proxy.Head]
// then checks that the server sends the same, byte for byte (its line's
// end aside), before any of its bytes reach ssh, and swallows it. The
// string is in the key exchange hash that the server's host key signs,
// so one that differs could only fail ssh's key exchange: Head stops such
// a connection itself, with a clear error, and keeps the new string for
// the next.
type Proxy struct {
	host, port string
	st         *stanza.Stanza // nil: no knock
	// path is the learned string's file; "" when none is learned: no
	// stanza, or KnockEarlyBanner no.
	path string
	out  io.Writer // ssh's side
	warn func(string)
	// Debug, when set, receives what the server sent before its
	// identification string, which an early answer leaves out.
	Debug func(string)

	mu      sync.Mutex
	learned []byte // the string read from path, nil for none
	want    bool   // AnswerEarly was called
	early   bool   // learned went to ssh
	hungUp  bool   // ssh has gone: nothing more goes to it
}

// NewProxy looks up the stanza for alias in files and the string learned
// for host and port; out is ssh's side of the connection, where an early
// answer goes. warn receives non-fatal problems.
func NewProxy(alias, host, port string, files []stanza.File, out io.Writer, warn func(string)) (*Proxy, error) {
	st, found, err := stanza.Lookup(alias, files, warn)
	if err != nil {
		return nil, err
	}
	p := &Proxy{host: host, port: port, out: out, warn: warn}
	if found {
		p.st = &st
		if !st.LateBanner {
			p.path = IdentPath(st.Config.LockDir, host, port)
			p.learned = LoadIdent(p.path)
		}
	}
	return p, nil
}

// Stanza returns the stanza that applies, nil when none does.
func (p *Proxy) Stanza() *stanza.Stanza { return p.st }

// Target is host:port, for messages.
func (p *Proxy) Target() string { return net.JoinHostPort(p.host, p.port) }

// Learns reports that the connection learns the server's identification
// string: a stanza applies, without KnockEarlyBanner no.
func (p *Proxy) Learns() bool { return p.path != "" }

// AnswerEarly gives ssh the identification string learned before, now,
// and reports whether there was one. When there was none, the knock looks
// again at each burst, for one another connection has learned meanwhile.
func (p *Proxy) AnswerEarly() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.Learns() {
		return false, nil
	}
	p.want = true
	return p.answerLocked()
}

// answerLocked writes the learned string to ssh, if there is one and ssh
// is there to read it.
func (p *Proxy) answerLocked() (bool, error) {
	if p.early || p.hungUp || p.learned == nil {
		return p.early, nil
	}
	if _, err := p.out.Write(p.learned); err != nil {
		p.hungUp = true
		return false, err
	}
	p.early = true
	return true, nil
}

// lookAgain answers ssh with a string learned since AnswerEarly, if any.
func (p *Proxy) lookAgain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.want && !p.early && !p.hungUp {
		p.learned = LoadIdent(p.path)
		p.answerLocked()
	}
}

// Answers reports that AnswerEarly was called: ssh is to have the learned
// string as soon as there is one.
func (p *Proxy) Answers() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.want
}

// Early reports that ssh has had the learned string.
func (p *Proxy) Early() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.early
}

// HangUp tells p that ssh has gone (it ends its ProxyCommand with SIGHUP):
// nothing more goes to ssh, but a knock under way may go on and its
// connection still teach the server's identification string.
func (p *Proxy) HangUp() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hungUp = true
}

// Dial knocks, when a stanza applies, and connects. trace, when set,
// receives the knock timeline.
func (p *Proxy) Dial(ctx context.Context, trace func(knocker.Event)) (net.Conn, error) {
	o := stanza.DialOptions{Trace: trace}
	if p.st == nil {
		return stanza.Dial(ctx, nil, p.host, p.port, o)
	}
	if p.Learns() {
		o.Trace = func(e knocker.Event) {
			if e.Kind == knocker.EventBurst {
				p.lookAgain()
			}
			if trace != nil {
				trace(e)
			}
		}
	}
	return stanza.Dial(ctx, p.st, p.host, p.port, o)
}

// Head is the relay's [Head] for the connection: it reads the server's
// lines up to its identification string and learns the string. When ssh
// has had the learned one, the server's must be the same byte for byte:
// Head then returns what follows it, and otherwise an *IdentError after
// learning the new one. When ssh has not, Head returns every byte read,
// for ssh to read as the server sent them, and ends no connection. A
// Proxy that learns nothing has no Head.
func (p *Proxy) Head(conn net.Conn) ([]byte, error) {
	if !p.Learns() {
		return nil, nil
	}
	p.mu.Lock()
	early, learned := p.early, p.learned
	p.mu.Unlock()
	conn.SetReadDeadline(time.Now().Add(identTimeout))
	data, start, end, pre, err := readIdent(conn)
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		if !early {
			return data, nil // not learned; ssh reads it and says
		}
		return nil, &IdentError{Target: p.Target(), Want: learned, Pre: pre, Err: err}
	}
	p.debugPre(data[:start])
	got := data[start:end]
	same := sameIdent(got, learned)
	var lerr error
	if !same {
		lerr = p.learn(got)
	}
	switch {
	case !early:
		return data, nil
	case !same:
		return nil, &IdentError{Target: p.Target(), Got: got, Want: learned, Err: lerr}
	}
	return data[end:], nil
}

// sameIdent reports whether two identification strings are the same
// byte for byte but for their line ends: the key exchange hash covers the
// string without them (RFC 4253 8; OpenSSH drops every CR), as does
// what ssh makes of the server's software version (compat_banner).
func sameIdent(a, b []byte) bool {
	return a != nil && b != nil && bytes.Equal(bytes.TrimRight(a, "\r\n"), bytes.TrimRight(b, "\r\n"))
}

// learn keeps line as the string learned.
func (p *Proxy) learn(line []byte) error {
	if err := parseIdent(line); err != nil {
		return fmt.Errorf("not one to learn: %w", err)
	}
	err := storeIdent(p.path, line)
	if err != nil {
		err = fmt.Errorf("could not keep it: %w", err)
		if p.warn != nil {
			p.warn(fmt.Sprintf("%s: the server's identification string: %v", p.Target(), err))
		}
	}
	return err
}

// debugPre shows the lines the server sent before its identification
// string.
func (p *Proxy) debugPre(pre []byte) {
	if p.Debug == nil {
		return
	}
	for line := range bytes.Lines(pre) {
		p.Debug(fmt.Sprintf("%s sent before its identification string: %s", p.Target(), quoteCap(line)))
	}
}

// An IdentError is a connection stopped because the server's
// identification string is not the one learned before, which ssh had had
// in its place, or because none came.
type IdentError struct {
	// Target is host:port.
	Target string
	// Got is the server's string (nil when none came), Want the one ssh
	// had.
	Got, Want []byte
	// Pre is the first line the server sent before its string, if any.
	Pre []byte
	// Err is why none came, or why the new one was not learned; nil when
	// it was.
	Err error
}

func (e *IdentError) Error() string {
	if e.Got == nil {
		msg := fmt.Sprintf("%s sent no identification string after the knock", e.Target)
		if e.Pre != nil {
			msg += fmt.Sprintf(" (its first line: %s)", quoteCap(e.Pre))
		}
		if errors.Is(e.Err, os.ErrDeadlineExceeded) {
			return fmt.Sprintf("%s within %v", msg, identTimeout)
		}
		return fmt.Sprintf("%s: %v", msg, e.Err)
	}
	msg := fmt.Sprintf("%s now identifies as %s, not as %s learned from an earlier connection and given to ssh in its place: stopped, as ssh's key exchange would fail; ", e.Target, quoteCap(e.Got), quoteCap(e.Want))
	if e.Err != nil {
		return msg + fmt.Sprintf("the new one %v; set KnockEarlyBanner no for the host", e.Err)
	}
	return msg + "learned the new one, so the next connection gets in"
}

// Unwrap returns Err.
func (e *IdentError) Unwrap() error { return e.Err }

// quoteCap quotes what a server sent, without its line's end, for a
// message: escaped, and cut after 100 bytes.
func quoteCap(b []byte) string {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > 100 {
		return strconv.Quote(string(b[:100])) + "..."
	}
	return strconv.Quote(string(b))
}
