package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
)

// knocks returns how many knocks the server's rules have counted since its
// counters were zeroed: the packets of the INPUT rules that --set the
// recent list (UDP and TCP SYN knocks on port 22).
func (f *front) knocks() uint64 {
	f.t.Helper()
	return knocksOn(f.t, f.l, f.l.Server)
}

// knocksOn is the knocks server h of l has counted (IPv4): the packets of
// the --set rules in INPUT (the seed's function) or in KNOCKS_<tag>
// (knockssh --install's chain; the fail lists' --set is FAILKNOCKS_'s).
func knocksOn(tb testing.TB, l *lab.Lab, h *lab.Host) uint64 {
	tb.Helper()
	var n uint64
	for _, c := range l.ServerCounters(tb, h, 4, "filter") {
		if (c.Chain == "INPUT" || strings.HasPrefix(c.Chain, "KNOCKS_")) && strings.Contains(c.Spec, "--set") {
			n += c.Packets
		}
	}
	return n
}

// knock1234 is the number of knocks of one knock of 1234.
const knock1234 = 1 + 2 + 3 + 4

// muxSocket returns the socket of the shared connection, found by its lock
// file, which stays.
func (f *front) muxSocket() string {
	f.t.Helper()
	locks, _ := filepath.Glob(filepath.Join(f.l.Dir, "knockssh", "mux", "*.lock"))
	if len(locks) != 1 {
		f.t.Fatalf("lock files of shared connections: %q, want one", locks)
	}
	return strings.TrimSuffix(locks[0], ".lock")
}

// TestSharedConnection: with the default stanza, 8 commands at once knock
// once between them, 10 more in a row none; ssh -O check and exit work as
// usual; a dead master's socket is cleared and costs one knock; the
// counts come from the server's counters.
func TestSharedConnection(t *testing.T) {
	t.Parallel()
	f := newFront(t, sharedStanza)
	cfg := f.l.SSH.Config
	t.Cleanup(func() { f.cmd(context.Background(), knocksshBin, "-F", cfg, "-O", "exit", "lab").Run() })
	f.l.ZeroCounters(t)

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := f.cmd(context.Background(), knocksshBin, "-F", cfg, "lab", "echo", fmt.Sprint(i))
			var stderr bytes.Buffer
			c.Stderr = &stderr // the remote login shell's noise, if any, is not the command's
			out, err := c.Output()
			if err != nil || string(out) != fmt.Sprintf("%d\n", i) {
				t.Errorf("command %d of 8 at once: %v: %q; stderr: %q", i, err, out, stderr.String())
			}
		})
	}
	wg.Wait()
	if n := f.knocks(); n != knock1234 {
		t.Errorf("8 commands at once: the server counted %d knocks, want %d (one knock)", n, knock1234)
	}
	for i := range 10 {
		if out := f.run(knocksshBin, "-F", cfg, "lab", "echo", "again"); out != "again\n" {
			t.Errorf("command %d of 10 in a row printed %q", i, out)
		}
	}
	if n := f.knocks(); n != knock1234 {
		t.Errorf("after 10 more commands: %d knocks, want still %d", n, knock1234)
	}
	// scp and rsync through knockssh share it too.
	f.write(filepath.Join(f.l.Dir, "small"), "payload\n")
	f.run("scp", "-S", knocksshBin, "-F", cfg, "small", "lab:"+filepath.Join(f.l.Dir, "small.copy"))
	f.run("rsync", "-e", knocksshBin+" -F "+cfg, "small", "lab:"+filepath.Join(f.l.Dir, "small.rsync"))
	if n := f.knocks(); n != knock1234 {
		t.Errorf("after scp and rsync: %d knocks, want still %d", n, knock1234)
	}

	// ssh -O through knockssh reaches the master.
	c := f.cmd(context.Background(), knocksshBin, "-F", cfg, "-O", "check", "lab")
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "Master running") {
		t.Errorf("knockssh -O check lab: %v: %s", err, out)
	}
	sock := f.muxSocket()
	f.run(knocksshBin, "-F", cfg, "-O", "exit", "lab")
	waitGone(t, sock)

	// A dead master's socket: nobody listens behind it.
	dead, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	dead.(*net.UnixListener).SetUnlinkOnClose(false)
	dead.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the dead socket is gone already: %v", err)
	}
	f.l.ZeroCounters(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// --knock-verbose's timeline comes through, although ssh sends a
	// ControlPersist master's ProxyCommand stderr to /dev/null.
	after := f.cmd(ctx, knocksshBin, "--knock-verbose", "-F", cfg, "lab", "echo", "after")
	var stderr strings.Builder
	after.Stderr = &stderr
	if out, err := after.Output(); err != nil || string(out) != "after\n" {
		t.Fatalf("command after a dead master: %v: %q: %s", err, out, stderr.String())
	}
	if !strings.Contains(stderr.String(), "window open at") {
		t.Errorf("--knock-verbose with sharing printed no timeline: %q", stderr.String())
	}
	if logs, _ := filepath.Glob(sock + ".*.log"); len(logs) != 0 {
		t.Errorf("left %q behind", logs)
	}
	if n := f.knocks(); n != knock1234 {
		t.Errorf("after a dead master: %d knocks, want %d (one new knock)", n, knock1234)
	}
	c = f.cmd(context.Background(), knocksshBin, "-F", cfg, "-O", "check", "lab")
	if out, err := c.CombinedOutput(); err != nil {
		t.Errorf("no new master after a dead one: %v: %s", err, out)
	}
}

// waitGone waits until ssh -O exit's master has removed its socket.
func waitGone(t *testing.T, sock string) {
	t.Helper()
	for range 100 {
		if _, err := os.Stat(sock); os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s still there after ssh -O exit", sock)
}

// TestSharingOff: KnockShare no knocks for every command, and leaves the
// user's own ControlMaster settings alone (TestControlMasterReuse).
func TestSharingOff(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	f.l.ZeroCounters(t)
	for range 2 {
		f.run(knocksshBin, "-F", f.l.SSH.Config, "lab", "true")
	}
	if n := f.knocks(); n != 2*knock1234 {
		t.Errorf("2 commands without sharing: %d knocks, want %d", n, 2*knock1234)
	}
	if m, _ := filepath.Glob(filepath.Join(f.l.Dir, "knockssh", "mux", "*")); len(m) != 0 {
		t.Errorf("sharing off left %q", m)
	}
}

// fleetStanza knocks on the lab's three servers, one sequence for all.
const fleetStanza = `Host lab fleet1 fleet2
    KnockSequence 1234
    KnockPort 22
    KnockWindow 1
    KnockShare no
`

// TestHostsInParallel: commands to three servers at once knock each once
// and at the same time (the lock is per target): together they take less
// than two knocks' time, where one after the other would take three.
func TestHostsInParallel(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1, KnockPort: 22, SecurePort: 22, SSHD: true, Servers: 3})
	f := &front{t: t, l: l, kc: filepath.Join(l.Dir, "knock_config")}
	f.write(f.kc, fleetStanza)
	f.env = append(os.Environ(), "XDG_CACHE_HOME="+l.Dir, "KNOCKSSH_CONFIG="+f.kc)
	start := time.Now()
	f.run(knocksshBin, "-F", l.SSH.Config, "lab", "true")
	one := time.Since(start)
	l.ZeroCounters(t)
	start = time.Now()
	var wg sync.WaitGroup
	for _, host := range []string{"lab", "fleet1", "fleet2"} {
		wg.Go(func() {
			c := f.cmd(context.Background(), knocksshBin, "-F", l.SSH.Config, host, "hostname -I")
			if out, err := c.CombinedOutput(); err != nil {
				t.Errorf("%s: %v: %s", host, err, out)
			}
		})
	}
	wg.Wait()
	three := time.Since(start)
	for i, h := range l.Servers {
		if n := knocksOn(t, l, h); n != knock1234 {
			t.Errorf("server %d (%s) counted %d knocks, want %d", i, lab.FleetIP4(i), n, knock1234)
		}
	}
	if three >= 2*one {
		t.Errorf("3 hosts at once took %v, one alone %v: the knocks did not overlap", three, one)
	}
	t.Logf("one host %v, three at once %v", one, three)
}

// TestTunnelNotShared: knockssh -N -L with the default stanza is not
// shared: ssh stays in the foreground (a ControlPersist master would fork
// to the background at once) and forwards.
func TestTunnelNotShared(t *testing.T) {
	t.Parallel()
	f := newFront(t, sharedStanza)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := f.cmd(ctx, knocksshBin, "-F", f.l.SSH.Config, "-N", "-L", "127.0.0.1:2200:127.0.0.1:22", "lab")
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f.l.Client.Do(func() error {
			conn, err := net.DialTimeout("tcp", "127.0.0.1:2200", time.Second)
			if err == nil {
				conn.Close()
			}
			return err
		})
		if err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("knockssh -N -L ended (%v) instead of forwarding: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no forwarding after 20s: %v: %s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("knockssh -N -L went away (%v): a backgrounded master?", err)
	default:
	}
	if m, _ := filepath.Glob(filepath.Join(f.l.Dir, "knockssh", "mux", "*")); len(m) != 0 {
		t.Errorf("a tunnel left sharing files: %q", m)
	}
}
