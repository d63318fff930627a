package sshclient

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConfigTimeLimits: ssh's convtime refuses a total over 2^31-1
// seconds; a huge value is an error, not an overflowed duration
// (sshconfig.Time has the cases).
func TestConfigTimeLimits(t *testing.T) {
	h, err := ResolveHost("x", &Options{ConfigFile: "none", Options: []string{"ServerAliveInterval=999999999w"}})
	if err == nil || !strings.Contains(err.Error(), "ServerAliveInterval") {
		t.Errorf("ServerAliveInterval=999999999w: %v, %v; want an error", h.ServerAliveInterval, err)
	}
}

// TestNativeRunNilStderr: Run with no Stderr does not panic; it still
// returns ssh's 255, and the error for the caller to report.
func TestNativeRunNilStderr(t *testing.T) {
	var n Command
	status, err := n.Run(context.Background(), []string{"-X", "host"})
	if status != exitConnection || err == nil || !strings.Contains(err.Error(), "-X") || strings.HasPrefix(err.Error(), "knockssh") {
		t.Errorf("Run(-X host) = %d, %v; want %d and an error about -X", status, err, exitConnection)
	}
}

// TestKnownHostsWithoutHome: without $HOME, the known_hosts files are
// never relative to the current directory: the account's home, or none.
func TestKnownHostsWithoutHome(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Setenv("USERPROFILE", "")
	} else {
		t.Setenv("HOME", "")
	}
	h, err := ResolveHost("x", &Options{ConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(h.UserKnownHostsFiles, h.GlobalKnownHostsFiles...) {
		if !filepath.IsAbs(f) {
			t.Errorf("known_hosts file %q is relative", f)
		}
	}
	if h.UserKnownHostsFiles != nil && !strings.HasSuffix(h.UserKnownHostsFiles[0], filepath.Join(".ssh", "known_hosts")) {
		t.Errorf("user known_hosts files %q", h.UserKnownHostsFiles)
	}
}

// TestMatchBlockWarning: a native keyword in a Match block, which --native
// cannot evaluate, gives one warning naming file:line, and is ignored.
func TestMatchBlockWarning(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte("Host x\n  User alice\nMatch host x\n  StrictHostKeyChecking no\n  Port 2\nMatch all\n  HostName 192.0.2.7\nHost *\n  Port 2200\n"), 0o600)
	var warnings []string
	h, err := ResolveHost("x", &Options{ConfigFile: cfg, Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	want := "Match blocks are not evaluated by the native client; StrictHostKeyChecking at " + cfg + ":4 ignored"
	if len(warnings) != 1 || warnings[0] != want {
		t.Errorf("warnings = %q, want [%q]", warnings, want)
	}
	if h.StrictHostKeyChecking != "ask" || h.Port != 2200 || h.HostName != "x" || h.User != "alice" {
		t.Errorf("got %+v: the Match block was not ignored", h)
	}
	// Without native keywords in Match blocks, no warning.
	os.WriteFile(cfg, []byte("Match host x\n  ForwardX11 yes\nHost *\n  Port 2200\n"), 0o600)
	warnings = nil
	if _, err := ResolveHost("x", &Options{ConfigFile: cfg, Warn: func(s string) { warnings = append(warnings, s) }}); err != nil || len(warnings) != 0 {
		t.Errorf("warnings = %q, %v; want none", warnings, err)
	}
}

// unixPair returns the two ends of a Unix socket connection.
func unixPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestPipeEnds: pipe half-closes on EOF, so a reply still comes back, and
// ctx being done closes both ends: no forwarded connection outlives Run.
func TestPipeEnds(t *testing.T) {
	local, a := unixPair(t)
	b, remote := unixPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pipe(ctx, a, b); close(done) }()
	local.Write([]byte("ping"))
	local.(*net.UnixConn).CloseWrite()
	got, _ := io.ReadAll(remote)
	if string(got) != "ping" {
		t.Fatalf("remote read %q", got)
	}
	remote.Write([]byte("pong"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(local, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("reply after a half-close: %q, %v", buf, err)
	}
	select {
	case <-done:
		t.Fatal("pipe ended with a direction still open")
	default:
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("pipe did not end when ctx was done")
	}
	local.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := local.Read(buf); err == nil {
		t.Errorf("local end still open after ctx: read %d bytes", n)
	}
}

// TestLocalForwardStops: the -L listeners close when ctx is done, as at the
// end of Run.
func TestLocalForwardStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	o := &Options{}
	if err := localForward(ctx, nil, "127.0.0.1:"+strconv.Itoa(port)+":192.0.2.1:22", o); err != nil {
		t.Fatal(err)
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		ln.Close()
		t.Fatal("the forwarding does not listen")
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the forwarding still listens after ctx: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPrintable: control characters from the server are shown escaped,
// never sent to the terminal.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"Welcome\r\n":            "Welcome\n",
		"a\tb\n":                 "a\tb\n",
		"\x1b]0;pwned\x07title":  `\x1b]0;pwned\x07title`,
		"clear\x1b[2J\x9b\u009b": `clear\x1b[2J\x9b\x9b`,
		"héllo wörld":            "héllo wörld",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestProxyNoneOnCommandLine: -o ProxyCommand=none (or ProxyJump=none)
// wins over the config's proxy, as in ssh, where the first value wins:
// the native client then connects directly instead of refusing the proxy.
func TestProxyNoneOnCommandLine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfg, []byte("Host x\n  ProxyCommand nc %h %p\n  ProxyJump gw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveHost("x", &Options{ConfigFile: cfg}); err == nil || !strings.Contains(err.Error(), "(proxies)") {
		t.Fatalf("config's ProxyCommand: %v, want the proxy refused", err)
	}
	if _, err := ResolveHost("x", &Options{ConfigFile: cfg, Options: []string{"ProxyCommand none", "ProxyJump=none"}}); err != nil {
		t.Errorf("-o ProxyCommand none -o ProxyJump=none: %v, want a direct connection", err)
	}
}
