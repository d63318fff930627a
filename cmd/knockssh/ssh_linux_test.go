package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/internal/sshargv"
)

// A front is a lab with the seed's rules (sequence 1234, window 1 s, knock
// port = sshd's port 22), sshd, and a knock config with a stanza for the
// lab's hosts, for end-to-end tests of knockssh in front of the real
// OpenSSH tools.
type front struct {
	t   testing.TB
	l   *lab.Lab
	kc  string // knock config (--config, $KNOCKSSH_CONFIG)
	env []string
}

// labStanza knocks for every command (no sharing), as the tests of the
// knock itself need; sharedStanza is the default, sharing.
const labStanza = `Host lab lab6
    KnockSequence 1234
    KnockPort 22
    KnockWindow 1
    KnockShare no
`

const sharedStanza = `Host lab lab6
    KnockSequence 1234
    KnockPort 22
    KnockWindow 1
`

func newFront(t testing.TB, stanza string) *front {
	t.Helper()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1, KnockPort: 22, SecurePort: 22, SSHD: true})
	f := &front{t: t, l: l, kc: filepath.Join(l.Dir, "knock_config")}
	f.write(f.kc, stanza)
	f.env = append(os.Environ(),
		"XDG_CACHE_HOME="+l.Dir, // every lab has the same addresses: own lock files
		"KNOCKSSH_CONFIG="+f.kc,
		"PATH="+filepath.Dir(knocksshBin)+":"+os.Getenv("PATH"),
	)
	return f
}

// write writes a file with mode 0600.
func (f *front) write(path, content string) {
	f.t.Helper()
	writeFile(f.t, path, content)
}

// sshConfig writes an ssh config made of extra followed by the lab's own.
func (f *front) sshConfig(name, extra string) string {
	f.t.Helper()
	base, err := os.ReadFile(f.l.SSH.Config)
	if err != nil {
		f.t.Fatal(err)
	}
	path := filepath.Join(f.l.Dir, name)
	f.write(path, extra+"\n"+string(base))
	return path
}

// cmd is a command in the client namespace with the front's environment.
func (f *front) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := f.l.Client.Command(ctx, name, args...)
	c.Env = f.env
	c.Dir = f.l.Dir
	return c
}

// run runs a command in the client namespace and returns its stdout; it
// fails the test when the command fails.
func (f *front) run(name string, args ...string) string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := f.cmd(ctx, name, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		f.t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestWrapperRunsCommand: "knockssh lab echo ok" knocks and runs the
// command; the remote exit status comes back as knockssh's; -v shows the
// timeline without the sequence.
func TestWrapperRunsCommand(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	start := time.Now()
	if out := f.run(knocksshBin, "-F", f.l.SSH.Config, "lab", "echo", "ok"); out != "ok\n" {
		t.Errorf("knockssh lab echo ok printed %q", out)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("connected after %v: before the window could open", d)
	}

	var stderr bytes.Buffer
	c := f.cmd(context.Background(), knocksshBin, "--knock-verbose", "-F", f.l.SSH.Config, "lab", "exit 42")
	c.Stderr = &stderr
	err := c.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 {
		t.Errorf("remote exit 42 gave %v; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "window open at") {
		t.Errorf("--knock-verbose printed no timeline: %s", stderr.String())
	}
	if strings.Contains(stderr.String(), "1234") {
		t.Errorf("the timeline shows the sequence: %s", stderr.String())
	}

	// IPv6, a PTY forced with -tt, and -P: a flag before OpenSSH 9.4, a
	// tag since (the wrapper asks ssh -V which, to find the destination).
	// Read the other way, "lab6" would be -P's tag and "tty" the host.
	args := []string{"-tt", "-F", f.l.SSH.Config, "-P"}
	r, err := sshargv.SSHRelease(context.Background(), "ssh")
	if err != nil {
		t.Fatal(err)
	}
	if r.Major > 9 || r.Major == 9 && r.Minor >= 4 {
		args = append(args, "tag")
	}
	args = append(args, "lab6", "tty")
	out := f.run(knocksshBin, args...)
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("knockssh %s printed %q, want a pts device", strings.Join(args, " "), out)
	}
}

// TestWrapperWithoutStanza: a destination no stanza applies to goes to ssh
// untouched (here the firewall is open: no listener): ssh connects by
// itself, with no ProxyCommand and so no knock. (How fast is make bench's
// business: a timed assertion here failed under the full suite's load.)
func TestWrapperWithoutStanza(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1, KnockPort: 22, SecurePort: 22, SSHD: true, Listener: "none"})
	kc := filepath.Join(l.Dir, "knock_config")
	writeFile(t, kc, "Host other\n  KnockSequence 1234\n")
	stdout, stderr, err := diagResult(l, l.Client, "", "--config", kc, "-v", "-F", l.SSH.Config, "lab", "echo", "direct")
	if err != nil || stdout != "direct\n" {
		t.Fatalf("knockssh -v lab echo direct: %v: %q\n%s", err, stdout, stderr)
	}
	direct := fmt.Sprintf("Connecting to %s [%s] port %d.", l.ServerIP4, l.ServerIP4, l.SSH.Port)
	if !strings.Contains(stderr, direct) || strings.Contains(stderr, "proxy command") ||
		strings.Contains(stderr, "knockssh") {
		t.Errorf("ssh -v did not connect directly (want %q, no proxy command, no knock):\n%s", direct, stderr)
	}
}

// TestWrongSequenceFails: a stanza with the wrong sequence fails after its
// retries with one actionable line that does not reveal the sequence.
func TestWrongSequenceFails(t *testing.T) {
	t.Parallel()
	f := newFront(t, "Host lab\n  KnockSequence 4321\n  KnockPort 22\n  KnockWindow 1\n  KnockRetries 1\n")
	var stderr bytes.Buffer
	c := f.cmd(context.Background(), knocksshBin, "-F", f.l.SSH.Config, "lab", "true")
	c.Stderr = &stderr
	err := c.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Errorf("exit status %v, want 255 as ssh's own failures", err)
	}
	msg := stderr.String()
	if !strings.Contains(msg, "knockssh: ") || !strings.Contains(msg, "check that the sequence") {
		t.Errorf("stderr lacks the actionable knockssh error: %s", msg)
	}
	if strings.Contains(msg, "4321") {
		t.Errorf("stderr reveals the sequence: %s", msg)
	}
}

// TestProxyCommandLine: the documented ProxyCommand line in an ssh config
// makes plain ssh knock, and the jump host of a ProxyJump is knocked
// through its own stanza.
func TestProxyCommandLine(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	kh := filepath.Join(f.l.Dir, "known_hosts_lo")
	f.write(kh, "127.0.0.1 "+f.l.SSH.HostKey+"\n")
	cfg := f.sshConfig("ssh_config_proxy", fmt.Sprintf(`Host lab lab6
  ProxyCommand knockssh --proxy %%n %%h %%p
Host inner
  HostName 127.0.0.1
  ProxyJump lab
  UserKnownHostsFile %s
`, kh))
	if out := f.run("ssh", "-F", cfg, "lab", "echo", "via-proxycommand"); out != "via-proxycommand\n" {
		t.Errorf("ssh with the ProxyCommand line printed %q", out)
	}
	// ssh -J runs "ssh -W" to the jump host, which reads the same config.
	if out := f.run("ssh", "-F", cfg, "inner", "echo", "via-jump"); out != "via-jump\n" {
		t.Errorf("ssh through the knocked jump host printed %q", out)
	}
	// The wrapper leaves a host whose config already knocks alone.
	if out := f.run(knocksshBin, "-F", cfg, "lab", "echo", "wrapped"); out != "wrapped\n" {
		t.Errorf("knockssh with the ProxyCommand line printed %q", out)
	}
}

// TestFileTransfers: scp both ways, sftp, rsync of a tree and git clone,
// each with knockssh as its ssh program.
func TestFileTransfers(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	d := f.l.Dir
	data := make([]byte, 1<<20)
	rand.Read(data)
	f.write(filepath.Join(d, "blob"), string(data))
	cfg := f.l.SSH.Config

	t.Run("scp", func(t *testing.T) {
		f.run("scp", "-S", knocksshBin, "-F", cfg, "blob", "lab:"+filepath.Join(d, "blob.up"))
		f.run("scp", "-S", knocksshBin, "-F", cfg, "lab:"+filepath.Join(d, "blob.up"), "blob.down")
		sameFile(t, filepath.Join(d, "blob"), filepath.Join(d, "blob.down"))
	})
	t.Run("sftp", func(t *testing.T) {
		f.write(filepath.Join(d, "batch"), fmt.Sprintf("put blob %s/blob.sftp\n", d))
		f.run("sftp", "-S", knocksshBin, "-F", cfg, "-b", "batch", "lab")
		sameFile(t, filepath.Join(d, "blob"), filepath.Join(d, "blob.sftp"))
	})
	t.Run("rsync", func(t *testing.T) {
		for _, p := range []string{"tree/a/b", "tree/c"} {
			if err := os.MkdirAll(filepath.Join(d, p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		f.write(filepath.Join(d, "tree/a/b/one"), "one\n")
		f.write(filepath.Join(d, "tree/c/two"), string(data[:4096]))
		f.run("rsync", "-a", "-e", knocksshBin+" -F "+cfg, "tree/", "lab:"+filepath.Join(d, "tree.copy")+"/")
		if out, err := exec.Command("diff", "-r", filepath.Join(d, "tree"), filepath.Join(d, "tree.copy")).CombinedOutput(); err != nil {
			t.Errorf("rsync copy differs: %v: %s", err, out)
		}
	})
	t.Run("git", func(t *testing.T) {
		repo := filepath.Join(d, "repo.git")
		script := fmt.Sprintf(`set -e
git init -q --bare %[1]s
git init -q %[2]s/work && cd %[2]s/work
git -c user.name=t -c user.email=t@example.org commit -q --allow-empty -m knocked
git push -q %[1]s HEAD:refs/heads/main`, repo, d)
		if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("making the repository: %v: %s", err, out)
		}
		c := f.cmd(context.Background(), "git", "clone", "-q", "-b", "main", "lab:"+repo, filepath.Join(d, "clone"))
		c.Env = append(c.Env, "GIT_SSH_COMMAND="+knocksshBin+" -F "+cfg)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git clone through knockssh: %v: %s", err, out)
		}
		out, err := exec.Command("git", "-C", filepath.Join(d, "clone"), "log", "--format=%s").Output()
		if err != nil || string(out) != "knocked\n" {
			t.Errorf("clone's log: %v: %q", err, out)
		}
	})
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ (%d and %d bytes)", a, b, len(x), len(y))
	}
}

// TestConcurrentScp: four scp to one host at once all get through: the
// per-target lock serializes their knocks.
func TestConcurrentScp(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	f.write(filepath.Join(f.l.Dir, "small"), "payload\n")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			dst := filepath.Join(f.l.Dir, fmt.Sprintf("small.%d", i))
			c := f.cmd(context.Background(), "scp", "-S", knocksshBin, "-F", f.l.SSH.Config, "small", "lab:"+dst)
			if out, err := c.CombinedOutput(); err != nil {
				t.Errorf("scp %d: %v: %s", i, err, out)
				return
			}
			sameFile(t, filepath.Join(f.l.Dir, "small"), dst)
		})
	}
	wg.Wait()
}

// TestControlMasterReuse: with ControlMaster/ControlPersist the first
// command knocks and later ones reuse the master without knocking. (With
// ControlPersist ssh sends its ProxyCommand's stderr to /dev/null, so the
// knock shows in the time taken: at least 3W.)
func TestControlMasterReuse(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	cfg := f.sshConfig("ssh_config_cm", fmt.Sprintf("Host *\n  ControlMaster auto\n  ControlPath %s/cm-%%C\n  ControlPersist 60\n", f.l.Dir))
	t.Cleanup(func() { f.cmd(context.Background(), "ssh", "-F", cfg, "-O", "exit", "lab").Run() })
	start := time.Now()
	first := f.cmd(context.Background(), knocksshBin, "--knock-verbose", "-F", cfg, "lab", "echo", "first")
	var stderr bytes.Buffer
	first.Stderr = &stderr
	if out, err := first.Output(); err != nil || string(out) != "first\n" {
		t.Fatalf("first command: %v: %q: %s", err, out, stderr.String())
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("the first command took %v: it cannot have knocked", d)
	}
	// ssh -v says how each later command went: through the master, with
	// no proxy command (a knock would take 3W at least, too).
	for i := range 3 {
		start := time.Now()
		second := f.cmd(context.Background(), knocksshBin, "-v", "-F", cfg, "lab", "echo", "again")
		stderr.Reset()
		second.Stderr = &stderr
		if out, err := second.Output(); err != nil || string(out) != "again\n" {
			t.Fatalf("command %d after the master: %v: %q: %s", i+2, err, out, stderr.String())
		}
		log := stderr.String()
		if !strings.Contains(log, "mux_client_request_session: master session id") || strings.Contains(log, "proxy command") ||
			strings.Contains(log, "knockssh") || time.Since(start) >= 3*time.Second {
			t.Errorf("command %d did not reuse the master (%v):\n%s", i+2, time.Since(start), log)
		}
	}
}

// TestUserSSHConfigMatch: Knock* lines inside an ssh config (IgnoreUnknown
// Knock*) that also holds Match exec and Match final blocks, which the
// config parser cannot evaluate: knockssh still knocks and connects.
func TestUserSSHConfigMatch(t *testing.T) {
	t.Parallel()
	f := newFront(t, "# no stanzas here\n")
	cfg := f.sshConfig("ssh_config_match", `IgnoreUnknown Knock*,SomeFutureKeyword
Match exec "test -n knockssh"
  ServerAliveInterval 30
Match final all
  ConnectTimeout 20
Host lab
  KnockSequence 1234
  KnockPort 22
  KnockWindow 1
  SomeFutureKeyword yes
`)
	// knock_config exists but has no stanza: the -F file's Knock* lines apply.
	env := []string{}
	for _, e := range f.env {
		if !strings.HasPrefix(e, "KNOCKSSH_CONFIG=") {
			env = append(env, e)
		}
	}
	f.env = append(env, "HOME="+f.l.Dir)
	if out := f.run(knocksshBin, "-F", cfg, "lab", "echo", "matched"); out != "matched\n" {
		t.Errorf("knockssh with a Match config printed %q", out)
	}
}

// TestConnectTimeoutKeepsItsMeaning: ConnectTimeout 3 in the ssh config,
// shorter than the 3.05 s knock at W=1: ssh bounds the wait for the
// server's banner with it, and the wrapper gives it the knock's time on
// top, so the command gets in. Plain ssh with the documented ProxyCommand
// line and the same timeout gets in too, with the identification string
// the wrapper's connection learned; with KnockEarlyBanner no it cannot,
// and knockssh says why in one line.
func TestConnectTimeoutKeepsItsMeaning(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	cfg := f.sshConfig("ssh_config_timeout", "ConnectTimeout 3\n")
	if out := f.run(knocksshBin, "-F", cfg, "lab", "echo", "in"); out != "in\n" {
		t.Errorf("knockssh with ConnectTimeout 3 printed %q", out)
	}
	proxy := "ProxyCommand=" + knocksshBin + " --proxy %n %h %p"
	if out := f.run("ssh", "-F", cfg, "-o", proxy, "lab", "echo", "proxied"); out != "proxied\n" {
		t.Errorf("ssh -o ProxyCommand with ConnectTimeout 3 printed %q", out)
	}
	// ConnectTimeout 2, a second before the window opens: with 3, a loaded
	// machine's ssh may give up only once the connection is made, which
	// is no longer during the knock.
	f.write(f.kc, labStanza+"    KnockEarlyBanner no\n")
	_, stderr, err := f.try("ssh", "-F", cfg, "-o", "ConnectTimeout=2", "-o", proxy, "lab", "true")
	want := "knockssh: ssh gave up during the knock on lab (3.05s, 19.15s with retries): its ConnectTimeout must be longer than the knock, or none\n"
	if exitCode(err) != 255 || !strings.Contains(stderr, want) || strings.Contains(stderr, "context canceled") {
		t.Errorf("with KnockEarlyBanner no: %v; want ssh's 255 and %q:\n%s", err, want, stderr)
	}
}

// TestProgressOnTerminal: on a terminal (script(1) gives the command one)
// the wrapper shows the knock's progress on one line, rewritten in place
// and cleared before ssh's output; shared or not, never in a pipe, never
// with -q, never the sequence.
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stanza string
		args         []string
		want         bool
	}{
		{"plain", labStanza, nil, true},
		{"shared", sharedStanza, nil, true},
		{"quiet", labStanza, []string{"-q"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFront(t, tc.stanza)
			typescript := filepath.Join(f.l.Dir, "typescript")
			cmd := strings.Join(append(append([]string{knocksshBin, "-F", f.l.SSH.Config}, tc.args...), "lab", "echo", "remote-out''put"), " ") // the output is not the command line
			f.run("script", "-q", "-e", "-c", cmd, typescript)
			data, err := os.ReadFile(typescript)
			if err != nil {
				t.Fatal(err)
			}
			out := string(data)
			if tc.stanza == sharedStanza {
				defer f.cmd(context.Background(), knocksshBin, "-F", f.l.SSH.Config, "-O", "exit", "lab").Run()
			}
			shown := strings.Contains(out, "\rknockssh: knocking on lab: burst 1 of 4") && strings.Contains(out, "burst 4 of 4")
			if shown != tc.want {
				t.Errorf("progress shown %v, want %v:\n%q", shown, tc.want, out)
			}
			if !strings.Contains(out, "remote-output") || strings.Contains(out, "1234") {
				t.Errorf("output %q: want the remote's output and never the sequence", out)
			}
			if tc.want {
				// Cleared before the remote's first byte: the last progress
				// line is followed by spaces and \r only, then by what the
				// remote sends, which is not always our echo first (the
				// remote shell's rc files may write to stderr) but never
				// progress again.
				before := out[:strings.Index(out, "remote-output")]
				i := strings.LastIndex(before, "connecting")
				if i < 0 {
					t.Fatalf("no progress line before the output: %q", before)
				}
				after := before[i+len("connecting"):]
				rest := strings.TrimLeft(after, " \r")
				if strings.Count(after[:len(after)-len(rest)], "\r") < 2 || strings.Contains(rest, "knockssh:") {
					t.Errorf("the progress line is not cleared before the output: %q", before)
				}
			}
		})
	}
	// In a pipe: nothing.
	f := newFront(t, labStanza)
	c := f.cmd(context.Background(), knocksshBin, "-F", f.l.SSH.Config, "lab", "true")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil || stderr.Len() != 0 {
		t.Errorf("in a pipe: %v, stderr %q, want none", err, stderr.String())
	}
}

// TestMatchExecForm: the "Host *" form that leaves hosts without a stanza
// to ssh: Match exec "knockssh --has-stanza %n" before the ProxyCommand
// line. A stanza host knocks (the server's counters); a host without one
// is dialled by ssh itself (ssh -v shows no proxy command). The cost per
// ssh call is logged: ssh -G with the Match line against without.
func TestMatchExecForm(t *testing.T) {
	t.Parallel()
	const match = "Match exec \"knockssh --has-stanza %n\"\n    ProxyCommand knockssh --proxy %n %h %p\n"
	f := newFront(t, labStanza)
	cfg := f.sshConfig("ssh_config_match_exec", match)
	f.l.ZeroCounters(t)
	f.run("ssh", "-F", cfg, "lab", "true")
	if n := f.knocks(); n != knock1234 {
		t.Errorf("a stanza host through Match exec: %d knocks, want %d", n, knock1234)
	}

	open := lab.New(t, lab.Options{Listener: "none", SSHD: true})
	base, err := os.ReadFile(open.SSH.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := filepath.Join(open.Dir, "ssh_config_match_exec")
	writeFile(t, cfg2, match+"Host plain\n    HostName 192.0.2.1\n"+string(base))
	c := open.Client.Command(context.Background(), "ssh", "-v", "-F", cfg2, "plain", "true")
	c.Env = f.env // the same knock config: a stanza for lab, none for plain
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("a host without a stanza: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Executing proxy command") || !strings.Contains(string(out), "Connecting to 192.0.2.1 [192.0.2.1] port 22") {
		t.Errorf("ssh -v for a host without a stanza:\n%s", out)
	}

	cost := func(config string) time.Duration {
		var ds []time.Duration
		for range 15 {
			start := time.Now()
			c := open.Client.Command(context.Background(), "ssh", "-G", "-F", config, "plain")
			c.Env = f.env
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("ssh -G: %v: %s", err, out)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	with, without := cost(cfg2), cost(open.SSH.Config)
	t.Logf("ssh -G per call: %v with the Match exec line, %v without (median of 15): %v for the check", with, without, with-without)
}
