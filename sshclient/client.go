package sshclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/knockssh/knockssh/internal/stanza"
	"github.com/knockssh/knockssh/knocker"
	"golang.org/x/crypto/ssh"
)

// Options configure the client: [DialContext], [DialConn] and
// [ResolveHost]. The zero value reads the user's ssh config and knock
// configs as ssh and knockssh do, and never prompts.
type Options struct {
	// ConfigFile is ssh's -F: the only ssh config read; "none" for none.
	// When empty, ~/.ssh/config and the system's ssh_config are read.
	ConfigFile string
	// Options are ssh -o lines ("Port=2222", "StrictHostKeyChecking
	// accept-new"); they win over the config files.
	Options []string
	// User and Port, when set, win over the config (ssh's -l and -p).
	User string
	Port int
	// IdentityFiles are tried before the config's (ssh's -i).
	IdentityFiles []string
	// KnockConfig, when set, is the only knock config read (knockssh's
	// --config); else ~/.ssh/knock_config, the Knock* lines of the ssh
	// config and /etc/ssh/knock_config, as for knockssh.
	KnockConfig string
	// Prompt asks the user a question (a passphrase, a password, whether
	// to trust a new host key) and returns the answer; echo is false for
	// secrets. When nil, nothing is asked: as with ssh's BatchMode.
	Prompt func(question string, echo bool) (string, error)
	// Stderr receives ssh's messages: host key warnings, "Permanently
	// added". Nil discards them (the errors still say what happened).
	Stderr io.Writer
	// Warn receives warnings about the knock configs.
	Warn func(string)
	// Trace receives the knock timeline.
	Trace func(knocker.Event)

	// debug, when set, receives -v lines; quiet is -q.
	debug func(format string, args ...any)
	quiet bool
}

func (o *Options) debugf(format string, args ...any) {
	if o.debug != nil {
		o.debug(format, args...)
	}
}

// knockFiles returns the knock configs o reads.
func (o *Options) knockFiles() []stanza.File {
	return stanza.Files(o.KnockConfig, o.ConfigFile)
}

// DialConn returns a TCP connection to the host and port the ssh config
// gives for alias, knocking first when a knock stanza applies to alias,
// as "knockssh --proxy" does; it fails when the knock stanza is malformed
// or the connection does not get through. It is for programs that bring
// their own ssh (or other) client.
func DialConn(ctx context.Context, alias string, o *Options) (net.Conn, error) {
	if o == nil {
		o = &Options{}
	}
	h, err := ResolveHost(alias, o)
	if err != nil {
		return nil, err
	}
	return dialHost(ctx, &h, o)
}

// DialContext connects to alias with the native client, as "knockssh
// --native alias" does: it resolves the ssh config, knocks when a stanza
// applies, checks the host key against the known_hosts files under the
// StrictHostKeyChecking policy, and authenticates with the agent, the
// identity files and, when o.Prompt is set, passwords. The context bounds
// the knock, the connection and the handshake, not the client's life.
func DialContext(ctx context.Context, alias string, o *Options) (*ssh.Client, error) {
	if o == nil {
		o = &Options{}
	}
	h, err := ResolveHost(alias, o)
	if err != nil {
		return nil, err
	}
	return dialClient(ctx, &h, o)
}

// dialHost knocks when a stanza applies to h.Alias, and connects.
func dialHost(ctx context.Context, h *HostConfig, o *Options) (net.Conn, error) {
	st, found, err := stanza.Lookup(h.Alias, o.knockFiles(), o.Warn)
	if err != nil {
		return nil, err
	}
	d := stanza.DialOptions{Timeout: h.ConnectTimeout, Trace: o.Trace}
	switch h.AddressFamily {
	case "inet":
		d.Network = "ip4"
	case "inet6":
		d.Network = "ip6"
	}
	port := strconv.Itoa(h.Port)
	if !found {
		o.debugf("Connecting to %s port %d (no knock stanza for %s).", h.HostName, h.Port, h.Alias)
		c, err := stanza.Dial(ctx, nil, h.HostName, port, d)
		if err != nil {
			return nil, fmt.Errorf("connect to host %s port %d: %w", h.HostName, h.Port, err)
		}
		return c, nil
	}
	o.debugf("Knocking, then connecting to %s port %d.", h.HostName, h.Port)
	return stanza.Dial(ctx, &st, h.HostName, port, d)
}

// dialClient connects and runs the ssh handshake and authentication.
func dialClient(ctx context.Context, h *HostConfig, o *Options) (*ssh.Client, error) {
	hk, err := newHostKeys(h, o.prompter(h), o.Stderr, o.quiet || h.LogLevel == "QUIET")
	if err != nil {
		return nil, err
	}
	conn, err := dialHost(ctx, h, o)
	if err != nil {
		return nil, err
	}
	return handshake(ctx, conn, h, hk, o)
}

// handshake runs the ssh handshake and authentication on conn, which it
// closes on failure.
func handshake(ctx context.Context, conn net.Conn, h *HostConfig, hk *hostKeys, o *Options) (*ssh.Client, error) {
	auth, closeAgent := authMethods(h, o)
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User:              h.User,
		Auth:              auth,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms(),
		BannerCallback: func(msg string) error {
			if o.Stderr != nil && !o.quiet {
				io.WriteString(o.Stderr, printable(msg))
			}
			return nil
		},
	}
	if algos := cfg.HostKeyAlgorithms; algos != nil {
		o.debugf("Host key algorithms, known types first: %v", algos[:min(len(algos), 3)])
	}
	if h.ConnectTimeout > 0 {
		conn.SetDeadline(time.Now().Add(h.ConnectTimeout))
	}
	// Cancelling ctx aborts the handshake.
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			conn.Close()
		case <-done:
		}
	}()
	c, chans, reqs, err := ssh.NewClientConn(conn, net.JoinHostPort(h.HostName, strconv.Itoa(h.Port)), cfg)
	close(done)
	<-stopped
	if err == nil && ctx.Err() != nil {
		c.Close()
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		if errors.Is(err, ErrHostKey) {
			return nil, unwrapHandshake(err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s@%s: %w", h.User, h.HostName, err)
	}
	conn.SetDeadline(time.Time{})
	o.debugf("Authenticated to %s (%s).", h.HostName, conn.RemoteAddr())
	return ssh.NewClient(c, chans, reqs), nil
}

// unwrapHandshake drops x/crypto's "ssh: handshake failed: " from a host
// key error, which says it all.
func unwrapHandshake(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Is(e, ErrHostKey) && errors.Unwrap(e) == ErrHostKey {
			return e
		}
	}
	return err
}

// prompter returns o.Prompt unless h's BatchMode forbids prompts.
func (o *Options) prompter(h *HostConfig) func(string, bool) (string, error) {
	if h.BatchMode {
		return nil
	}
	return o.Prompt
}

// printable returns text from the server (a banner, prompts) with its
// control characters other than newline and tab shown as \x escapes, as
// OpenSSH filters them: a server must not drive the user's terminal.
func printable(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				fmt.Fprintf(&b, "\\x%02x", s[i]) // not UTF-8: the byte
				continue
			}
		}
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
			// CRLF line ends are common in banners.
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
