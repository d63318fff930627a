package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The ProxyCommand line under a ConnectTimeout shorter than the knock
// (3 s, and 3.05 s for 1234 at W=1): ssh bounds its wait for the server's
// identification string with it, and knockssh --proxy answers that wait
// with the string learned from an earlier connection.

// proxyLine is the README's ProxyCommand line for the lab.
const proxyLine = "Host lab\n  ProxyCommand knockssh --proxy %n %h %p\n"

// try runs a command in the client namespace and returns its output and
// error.
func (f *front) try(name string, args ...string) (stdout, stderr string, err error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	c := f.cmd(ctx, name, args...)
	c.Stdout, c.Stderr = &out, &errb
	err = c.Run()
	return out.String(), errb.String(), err
}

// identFile returns the file where the string learned for the lab's
// sshd is kept, failing the test unless there is exactly one, of mode
// 0600 in a directory of mode 0700.
func (f *front) identFile() string {
	f.t.Helper()
	files, _ := filepath.Glob(filepath.Join(f.l.Dir, "knockssh", "ident-*"))
	if len(files) != 1 {
		f.t.Fatalf("identification strings learned: %q, want one", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		f.t.Fatal(err)
	}
	di, err := os.Stat(filepath.Dir(files[0]))
	if err != nil {
		f.t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		f.t.Errorf("%s: mode %v in a directory of mode %v, want 0600 in 0700", files[0], fi.Mode(), di.Mode())
	}
	return files[0]
}

// serverIdent asks ssh -v what the server sends, through a ProxyCommand
// that answers nothing early (the wrapper's): the server's own string,
// not one learned. The connection knocks once.
func (f *front) serverIdent(cfg string) string {
	f.t.Helper()
	_, stderr, err := f.try("ssh", "-v", "-F", cfg, "-o", "ProxyCommand=knockssh --proxy --early-banner no %n %h %p", "lab", "true")
	m := regexp.MustCompile(`(?m)^debug1: Remote protocol version (\d+\.\d+), remote software version (.+?)\r?$`).FindStringSubmatch(stderr)
	if err != nil || m == nil {
		f.t.Fatalf("ssh -v through --early-banner no: %v; no remote software version in:\n%s", err, stderr)
	}
	return "SSH-" + m[1] + "-" + m[2]
}

// exitCode is err's exit status, -1 when it is not an exit.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// TestProxyCommandShortTimeout: the first connection has nothing learned
// and times out, with knockssh's lines before and after ssh's, never
// "context canceled"; its knock goes on after ssh has gone, and learns
// the server's string; the next connection, started at once, gets in
// under the same 3 s, although its knock takes 3.05 s. The server counted
// both knocks in full.
func TestProxyCommandShortTimeout(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	cfg := f.sshConfig("ssh_config_banner", proxyLine)
	f.l.ZeroCounters(t)

	stdout, stderr, err := f.try("ssh", "-F", cfg, "-o", "ConnectTimeout=2", "lab", "echo", "first") // 2: surely over before the window opens, even on a loaded machine
	if exitCode(err) != 255 || stdout != "" {
		t.Fatalf("the first connection: %v, stdout %q, want ssh's 255 and nothing\n%s", err, stdout, stderr)
	}
	t.Logf("the first connection's stderr:\n%s", stderr)
	for _, want := range []string{
		"knockssh: no identification string learned for 192.0.2.1:22 yet: if ssh's ConnectTimeout is shorter than the knock (3.05s, 19.15s with retries), this first connection times out; the next one will not\n",
		"Connection timed out during banner exchange",
		"knockssh: ssh gave up before the knock on lab was through (3.05s, 19.15s with retries): knockssh finishes it to learn 192.0.2.1:22's identification string, so that the next connection does not wait for the knock\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the first connection's stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "context canceled") || strings.Contains(stderr, "1234") {
		t.Errorf("the first connection's stderr:\n%s", stderr)
	}
	if i, j := strings.Index(stderr, "no identification string learned"), strings.Index(stderr, "Connection timed out"); i < 0 || j < i {
		t.Errorf("knockssh's first line does not come before ssh's:\n%s", stderr)
	}

	// At once: the first knock may still be going on; this one waits for
	// it, and finds the string it learned.
	stdout, stderr, err = f.try("ssh", "-F", cfg, "-o", "ConnectTimeout=3", "lab", "echo", "second")
	if err != nil || stdout != "second\n" {
		t.Fatalf("the second connection: %v, stdout %q\n%s", err, stdout, stderr)
	}
	if n := f.knocks(); n != 2*knock1234 {
		t.Errorf("the server counted %d knocks, want %d: two knocks in full", n, 2*knock1234)
	}
	// And again, this time learned from the start: no line.
	stdout, stderr, err = f.try("ssh", "-F", cfg, "-o", "ConnectTimeout=3", "lab", "echo", "third")
	if err != nil || stdout != "third\n" || stderr != "" {
		t.Errorf("the third connection: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	if n := f.knocks(); n != 3*knock1234 {
		t.Errorf("the server counted %d knocks, want %d", n, 3*knock1234)
	}

	// What it does not do: ServerAliveInterval × ServerAliveCountMax bounds
	// ssh's wait for the server's key exchange, after the banner.
	_, stderr, err = f.try("ssh", "-F", cfg, "-o", "ConnectTimeout=3", "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=1", "lab", "true")
	want := "knockssh: ssh hung up during the knock on lab (3.05s, 19.15s with retries) although it had the identification string learned before: a ServerAliveInterval × ServerAliveCountMax shorter than the knock ends it too\n"
	if exitCode(err) != 255 || !strings.Contains(stderr, want) {
		t.Errorf("with ServerAliveInterval 1: %v; want ssh's 255 and %q:\n%s", err, want, stderr)
	}
	t.Logf("with ServerAliveInterval 1:\n%s", stderr)

	learned, err := os.ReadFile(f.identFile())
	if err != nil {
		t.Fatal(err)
	}
	if want := f.serverIdent(cfg); strings.TrimRight(string(learned), "\r\n") != want {
		t.Errorf("learned %q, the server sends %q", learned, want)
	}
}

// TestProxyCommandChangedBanner: a learned string the server no longer
// sends (here written over the real one) fails closed: ssh had it, so the
// proxy stops before any of the server's bytes reach ssh, says so in one
// line, and learns the new string; the next connection gets in under
// ConnectTimeout 3.
func TestProxyCommandChangedBanner(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	cfg := f.sshConfig("ssh_config_banner", proxyLine)
	if out := f.run("ssh", "-F", cfg, "lab", "echo", "learn"); out != "learn\n" {
		t.Fatalf("learning: %q", out)
	}
	path := f.identFile()
	real, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const stale = "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3"
	f.write(path, stale+"\r\n")
	f.l.ZeroCounters(t)

	stdout, stderr, err := f.try("ssh", "-F", cfg, "-o", "ConnectTimeout=3", "lab", "echo", "stale")
	if exitCode(err) != 255 || stdout != "" {
		t.Fatalf("with a stale string: %v, stdout %q, want ssh's 255 and nothing\n%s", err, stdout, stderr)
	}
	want := "knockssh: 192.0.2.1:22 now identifies as \"" + strings.TrimRight(string(real), "\r\n") + "\", not as \"" + stale +
		"\" learned from an earlier connection and given to ssh in its place: stopped, as ssh's key exchange would fail; learned the new one, so the next connection gets in\n"
	if !strings.Contains(stderr, want) || strings.Count(stderr, "knockssh:") != 1 {
		t.Errorf("stderr lacks the one line %q:\n%s", want, stderr)
	}
	t.Logf("with a stale string:\n%s", stderr)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, real) {
		t.Errorf("relearned %q, want %q", got, real)
	}
	stdout, stderr, err = f.try("ssh", "-F", cfg, "-o", "ConnectTimeout=3", "lab", "echo", "after")
	if err != nil || stdout != "after\n" {
		t.Errorf("after relearning: %v, stdout %q\n%s", err, stdout, stderr)
	}
	if n := f.knocks(); n != 2*knock1234 {
		t.Errorf("the server counted %d knocks, want %d", n, 2*knock1234)
	}
}
