package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// A nativeFront is a front (lab, sshd, knock stanza for lab and lab6) for
// knockssh --native, with a HOME of its own so that no file of the
// machine's user is read or written.
type nativeFront struct {
	*front
	home string
}

func newNativeFront(t *testing.T) *nativeFront {
	t.Helper()
	f := newFront(t, labStanza)
	home := filepath.Join(f.l.Dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, e := range f.env {
		if !strings.HasPrefix(e, "HOME=") && !strings.HasPrefix(e, "SSH_AUTH_SOCK=") {
			env = append(env, e)
		}
	}
	f.env = append(env, "HOME="+home)
	return &nativeFront{front: f, home: home}
}

// config writes an ssh config for the lab's hosts with the given lines
// in the Host * block instead of the lab config's key and known_hosts
// settings.
func (f *nativeFront) config(name, lines string) string {
	f.t.Helper()
	path := filepath.Join(f.l.Dir, name)
	f.write(path, fmt.Sprintf("Host lab\n  HostName %s\nHost lab6\n  HostName %s\nHost *\n  Port %d\n  User root\n%s\n",
		f.l.ServerIP4, f.l.ServerIP6, f.l.SSH.Port, lines))
	return path
}

// result runs knockssh --native with args in the client namespace and
// returns its stdout, stderr and exit status. It runs in a session of its
// own, without a controlling terminal: the tests that expect "no
// terminal" (a passphrase, a host key question) must not open the
// developer's /dev/tty; those with a terminal use tmux.
func (f *nativeFront) result(stdin string, args ...string) (stdout, stderr string, status int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := f.cmd(ctx, knocksshBin, append([]string{"--native"}, args...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out, errb bytes.Buffer
	c.Stdin = strings.NewReader(stdin)
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitCode()
	default:
		f.t.Fatalf("knockssh --native %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), status
}

// TestNativeCommand: a remote command through the native client knocks,
// streams stdin and stdout, and its exit status is knockssh's; IPv6 too;
// -v shows the timeline without the sequence; a connection failure is
// 255.
func TestNativeCommand(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	cfg := f.l.SSH.Config
	start := time.Now()
	out, stderr, status := f.result("", "-F", cfg, "lab", "echo", "native-ok")
	if status != 0 || out != "native-ok\n" {
		t.Fatalf("knockssh --native lab echo native-ok: status %d, stdout %q, stderr %s", status, out, stderr)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("connected after %v: before the window could open", d)
	}
	if _, stderr, status := f.result("", "-F", cfg, "lab", "exit 42"); status != 42 {
		t.Errorf("remote exit 42 gave status %d: %s", status, stderr)
	}
	if out, stderr, status := f.result("streamed\nlines\n", "-F", cfg, "lab6", "cat; echo err >&2"); status != 0 || out != "streamed\nlines\n" || stderr != "err\n" {
		t.Errorf("lab6 cat: status %d, stdout %q, stderr %q", status, out, stderr)
	}
	// Keepalives every second, answered: a session longer than
	// ServerAliveInterval * ServerAliveCountMax lives on.
	if out, stderr, status := f.result("", "-F", cfg, "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2", "lab", "sleep 3; echo alive"); status != 0 || out != "alive\n" {
		t.Errorf("with keepalives: status %d, stdout %q, stderr %s", status, out, stderr)
	}
	_, stderr, _ = f.result("", "-v", "-F", cfg, "lab", "true")
	if !strings.Contains(stderr, "window open at") || !strings.Contains(stderr, "debug1: Authenticated") {
		t.Errorf("-v printed no timeline or no debug lines: %s", stderr)
	}
	if strings.Contains(stderr, "1234") {
		t.Errorf("-v shows the sequence: %s", stderr)
	}
	// No stanza for this name, and nothing listens on its port: 255.
	_, stderr, status = f.result("", "-F", cfg, "-o", "ConnectTimeout=2", "-p", "2", "192.0.2.1", "true")
	if status != 255 || !strings.HasPrefix(stderr, "knockssh: ") {
		t.Errorf("a refused connection gave status %d: %s", status, stderr)
	}
}

// TestNativeHostKeys: accept-new writes known_hosts (hashed with
// HashKnownHosts) and a second connection under StrictHostKeyChecking yes
// uses it; an unknown key under yes and a changed key are refused, the
// latter with ssh's loud warning naming file:line.
func TestNativeHostKeys(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	kh := filepath.Join(f.home, ".ssh", "known_hosts")
	base := "  IdentityFile " + f.l.SSH.IdentityFile + "\n  GlobalKnownHostsFile /dev/null\n"

	strict := f.config("ssh_strict", base+"  StrictHostKeyChecking yes\n")
	_, stderr, status := f.result("", "-F", strict, "lab", "true")
	if status != 255 || !strings.Contains(stderr, "No ED25519 host key is known for 192.0.2.1") {
		t.Errorf("unknown host under StrictHostKeyChecking yes: status %d: %s", status, stderr)
	}
	if _, err := os.Stat(kh); err == nil {
		t.Errorf("StrictHostKeyChecking yes wrote %s", kh)
	}

	acceptNew := f.config("ssh_accept", base+"  StrictHostKeyChecking accept-new\n  HashKnownHosts yes\n")
	out, stderr, status := f.result("", "-F", acceptNew, "lab", "echo", "first")
	if status != 0 || out != "first\n" || !strings.Contains(stderr, "Permanently added '192.0.2.1' (ED25519)") {
		t.Fatalf("accept-new: status %d, stdout %q, stderr %s", status, out, stderr)
	}
	written, err := os.ReadFile(kh)
	if err != nil {
		t.Fatalf("accept-new wrote no known_hosts: %v", err)
	}
	if !strings.HasPrefix(string(written), "|1|") || !strings.Contains(string(written), f.l.SSH.HostKey) || strings.Contains(string(written), "192.0.2.1") {
		t.Errorf("known_hosts is not one hashed line with the host key: %q", written)
	}
	// -o wins over the config: the written key is used under yes.
	out, stderr, status = f.result("", "-F", acceptNew, "-o", "StrictHostKeyChecking=yes", "lab", "echo", "second")
	if status != 0 || out != "second\n" || strings.Contains(stderr, "Permanently added") {
		t.Errorf("second connection with the written key: status %d, stdout %q, stderr %s", status, out, stderr)
	}

	// A changed key: another ed25519 key for the host, on line 2.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(pub)
	f.write(kh, "# keys\n192.0.2.1 "+string(ssh.MarshalAuthorizedKey(other)))
	for _, policy := range []string{"yes", "accept-new", "no"} {
		out, stderr, status = f.result("", "-F", acceptNew, "-o", "StrictHostKeyChecking="+policy, "lab", "echo", "must-not-run")
		if status != 255 || out != "" {
			t.Errorf("changed key under %s: status %d, stdout %q", policy, status, out)
		}
		for _, want := range []string{"WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!", "Offending ED25519 key in " + kh + ":2", "Host key verification failed."} {
			if !strings.Contains(stderr, want) {
				t.Errorf("changed key under %s: stderr lacks %q:\n%s", policy, want, stderr)
			}
		}
	}
}

// TestNativeAgent: with no key file at all, the key held by an ssh-agent
// the test starts logs in; without the agent, the login fails.
func TestNativeAgent(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	sock := filepath.Join(f.l.Dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 500 {
			t.Fatal("ssh-agent did not create its socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", f.l.SSH.IdentityFile)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	cfg := f.config("ssh_agent", "  UserKnownHostsFile "+f.l.SSH.KnownHosts+"\n  StrictHostKeyChecking yes\n")
	_, stderr, status := f.result("", "-F", cfg, "lab", "true")
	if status != 255 || !strings.Contains(stderr, "unable to authenticate") {
		t.Errorf("without the agent: status %d: %s", status, stderr)
	}
	f.env = append(f.env, "SSH_AUTH_SOCK="+sock)
	out, stderr, status := f.result("", "-v", "-F", cfg, "lab", "echo", "via-agent")
	if status != 0 || out != "via-agent\n" || !strings.Contains(stderr, "the agent's ED25519 key") {
		t.Errorf("with the agent: status %d, stdout %q, stderr %s", status, out, stderr)
	}
}

// tmux drives a terminal: a tmux server of the test's own, whose session
// runs in the client namespace.
type tmux struct {
	t    *testing.T
	sock string
}

// newTmux starts a detached 80x24 session (no status line) running the
// shell script in the client namespace; the pane stays after it exits,
// showing "exit=N".
func (f *nativeFront) tmux(t *testing.T, script string) *tmux {
	t.Helper()
	run := filepath.Join(f.l.Dir, "tmux-run.sh")
	var b strings.Builder
	for _, e := range f.env {
		k, v, _ := strings.Cut(e, "=")
		if k == "HOME" || k == "XDG_CACHE_HOME" || k == "KNOCKSSH_CONFIG" || k == "PATH" || k == "SSH_AUTH_SOCK" {
			fmt.Fprintf(&b, "export %s=%q\n", k, v)
		}
	}
	fmt.Fprintf(&b, "export TERM=xterm-256color\ncd %q\n%s\necho \"exit=$?\"\nsleep 600\n", f.l.Dir, script)
	f.write(run, b.String())
	conf := filepath.Join(f.l.Dir, "tmux.conf")
	f.write(conf, "set -g status off\nset -g remain-on-exit on\n")
	tm := &tmux{t: t, sock: filepath.Join(f.l.Dir, "tmux.sock")}
	c := f.l.Client.Command(context.Background(), "tmux", "-S", tm.sock, "-f", conf, "new-session", "-d", "-s", "s", "-x", "80", "-y", "24", "bash "+run)
	c.Env = append(os.Environ(), "TERM=xterm-256color")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *tmux) do(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen returns what the pane shows.
func (tm *tmux) screen() string { return tm.do("capture-pane", "-p", "-t", "s") }

// wait waits until the screen holds want, and returns it.
func (tm *tmux) wait(want string) string {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := tm.screen()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %q:\n%s", want, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// send types text and Enter.
func (tm *tmux) send(text string) {
	tm.do("send-keys", "-t", "s", "-l", text)
	tm.do("send-keys", "-t", "s", "Enter")
}

// TestNativePTY: an interactive shell in a terminal: a PTY of the
// terminal's size, resized with the pane, and the shell's exit status as
// knockssh's.
func TestNativePTY(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	tm := f.tmux(t, fmt.Sprintf("%s --native -F %s -o LogLevel=INFO lab", knocksshBin, f.l.SSH.Config))
	// The remote shell's prompt, then a command typed at it.
	tm.send("echo TTY=$(tty) TERM=$TERM SIZE=$(stty size)")
	screen := tm.wait("SIZE=24 80")
	if !strings.Contains(screen, "TTY=/dev/pts/") || !strings.Contains(screen, "TERM=xterm-256color") {
		t.Errorf("no PTY or no TERM on the remote side:\n%s", screen)
	}
	tm.do("resize-window", "-t", "s", "-x", "100", "-y", "30")
	tm.send("echo NEWSIZE=$(stty size)")
	tm.wait("NEWSIZE=30 100")
	tm.send("exit 7")
	screen = tm.wait("exit=7")
	if !strings.Contains(screen, "Connection to 192.0.2.1 closed.") {
		t.Errorf("no closing message:\n%s", screen)
	}
}

// TestNativePassphrase: a passphrase-protected key: the passphrase is
// asked for on the terminal, not echoed, and the key logs in.
func TestNativePassphrase(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	key := filepath.Join(f.l.Dir, "id_encrypted")
	data, err := os.ReadFile(f.l.SSH.IdentityFile)
	if err != nil {
		t.Fatal(err)
	}
	f.write(key, string(data))
	if out, err := exec.Command("ssh-keygen", "-q", "-p", "-N", "s3cret-phrase", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -p: %v: %s", err, out)
	}
	cfg := f.config("ssh_enc", "  UserKnownHostsFile "+f.l.SSH.KnownHosts+"\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n")
	// Without a terminal, the key cannot be used.
	if _, stderr, status := f.result("", "-F", cfg, "-i", key, "lab", "true"); status != 255 {
		t.Errorf("an encrypted key without a terminal: status %d: %s", status, stderr)
	}
	tm := f.tmux(t, fmt.Sprintf("%s --native -F %s -i %s lab echo logged-in-with-key", knocksshBin, cfg, key))
	tm.wait("Enter passphrase for key '" + key + "':")
	tm.send("s3cret-phrase")
	screen := tm.wait("exit=0")
	if !strings.Contains(screen, "logged-in-with-key") {
		t.Errorf("the command did not run:\n%s", screen)
	}
	if strings.Contains(screen, "s3cret") {
		t.Errorf("the passphrase was echoed:\n%s", screen)
	}
}

// TestNativeKeyPermissions: a private key that others may read is
// ignored, as ssh ignores it, with ssh's reason and the fix (here it is
// the only key, so the login fails); chmod 600 and it logs in.
func TestNativeKeyPermissions(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	key := filepath.Join(f.home, ".ssh", "id_open")
	data, err := os.ReadFile(f.l.SSH.IdentityFile)
	if err != nil {
		t.Fatal(err)
	}
	f.write(key, string(data))
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := f.config("ssh_keyperm", "  UserKnownHostsFile "+f.l.SSH.KnownHosts+"\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n  BatchMode yes\n")
	out, stderr, status := f.result("", "-F", cfg, "-i", key, "lab", "echo", "must-not-run")
	want := "Warning: UNPROTECTED PRIVATE KEY FILE: permissions 0644 for '" + key + "' are too open; it is required that your private key files are NOT accessible by others; this private key will be ignored (chmod 600 " + key + ").\n"
	if status != 255 || out != "" || !strings.Contains(stderr, want) {
		t.Errorf("a 0644 key: status %d, stdout %q, stderr %q; want 255 and %q", status, out, stderr, want)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, status := f.result("", "-F", cfg, "-i", key, "lab", "echo", "key-ok"); status != 0 || out != "key-ok\n" || strings.Contains(stderr, "UNPROTECTED") {
		t.Errorf("a 0600 key: status %d, stdout %q, stderr %q", status, out, stderr)
	}
}

// TestNativeForward: -N -L carries bytes both ways to a service on the
// server's side.
func TestNativeForward(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	ln := f.l.Listen(t, "tcp4", 7777)
	go echo(ln)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := f.cmd(ctx, knocksshBin, "--native", "-F", f.l.SSH.Config, "-N", "-L", "127.0.0.1:6000:127.0.0.1:7777", "lab")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Wait()
	defer cancel()
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	var got []byte
	err := f.l.Client.Do(func() error {
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := net.Dial("tcp", "127.0.0.1:6000")
			if err != nil {
				if time.Now().After(deadline) {
					return err
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
			defer conn.Close()
			go func() {
				conn.Write(payload)
				conn.(*net.TCPConn).CloseWrite()
			}()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			got, err = io.ReadAll(conn)
			return err
		}
	})
	if err != nil {
		t.Fatalf("through the forwarding: %v; knockssh: %s", err, stderr.String())
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("the forwarding carried %d bytes back, want the %d sent", len(got), len(payload))
	}
}

// TestNativeAskHostKey: under StrictHostKeyChecking ask, an unknown host
// key is shown with its fingerprint on the terminal; "yes" adds it and
// connects.
func TestNativeAskHostKey(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	cfg := f.config("ssh_ask", "  IdentityFile "+f.l.SSH.IdentityFile+"\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking ask\n")
	tm := f.tmux(t, fmt.Sprintf("%s --native -F %s lab echo asked-and-in", knocksshBin, cfg))
	screen := tm.wait("Are you sure you want to continue connecting (yes/no/[fingerprint])?")
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(f.l.SSH.HostKey))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(screen, "ED25519 key fingerprint is "+ssh.FingerprintSHA256(key)) {
		t.Errorf("the question lacks the key's fingerprint:\n%s", screen)
	}
	tm.send("maybe")
	tm.wait("Please type 'yes', 'no' or the fingerprint:")
	tm.send("yes")
	screen = tm.wait("exit=0")
	if !strings.Contains(screen, "asked-and-in") {
		t.Errorf("the command did not run:\n%s", screen)
	}
	kh, err := os.ReadFile(filepath.Join(f.home, ".ssh", "known_hosts"))
	if err != nil || !strings.HasPrefix(string(kh), "192.0.2.1 "+f.l.SSH.HostKey) {
		t.Errorf("known_hosts after yes: %q, %v", kh, err)
	}
}

// TestNativeSignals: SIGTERM, SIGHUP or Ctrl-C's SIGINT ends a native
// session as it ends ssh's: status 255 at once; -N likewise. (Without a PTY
// the remote command may live on, as with ssh: knockssh asks sshd to send
// it SIGINT, which OpenSSH 9.2 refuses for root's sessions, "session
// signalling requires privilege separation", and ssh never asks.)
func TestNativeSignals(t *testing.T) {
	t.Parallel()
	f := newNativeFront(t)
	cfg := f.l.SSH.Config
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"command/SIGTERM", syscall.SIGTERM, []string{"lab", "echo started; exec sleep 9"}},
		{"command/SIGHUP", syscall.SIGHUP, []string{"lab6", "echo started; exec sleep 9"}},
		{"-N/SIGINT", syscall.SIGINT, []string{"-N", "-v", "lab"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		c := f.cmd(ctx, knocksshBin, append([]string{"--native", "-F", cfg}, tt.args...)...)
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		c.Stdin = nil
		// The command says "started" on stdout; -N -v says
		// "Authenticated" on stderr.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c.Stdout, c.Stderr = w, w
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		var seen bytes.Buffer
		ready := make(chan bool, 1)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := r.Read(buf)
				seen.Write(buf[:n])
				if bytes.Contains(seen.Bytes(), []byte("started")) || bytes.Contains(seen.Bytes(), []byte("debug1: Authenticated")) {
					ready <- true
					io.Copy(io.Discard, r)
					return
				}
				if err != nil {
					ready <- false
					return
				}
			}
		}()
		if !<-ready {
			c.Wait()
			cancel()
			t.Fatalf("%s: the session never started: %s", tt.name, seen.String())
		}
		sent := time.Now()
		if err := c.Process.Signal(tt.sig); err != nil {
			t.Fatal(err)
		}
		err = c.Wait()
		took := time.Since(sent)
		cancel()
		r.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 255 {
			t.Errorf("%s: %v after the signal, want exit status 255", tt.name, err)
		}
		if took > 5*time.Second {
			t.Errorf("%s: ended %v after the signal", tt.name, took)
		}
	}
}
