package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
)

// The lockout guard's end-to-end tests: --install --revert-after in a
// server namespace, its reverter a real detached process, the rules real
// iptables, the confirming session a real knock and ssh login.

// guardLab is a lab without knock rules and a run directory of its own.
type guardLab struct {
	*lab.Lab
	run string // $KNOCKSSH_RUN_DIR
}

// root is $KNOCKSSH_PERSIST_ROOT, for --persist.
func (g *guardLab) root() string { return filepath.Join(g.Dir, "root") }

func newGuardLab(t *testing.T, sshd bool) *guardLab {
	t.Helper()
	l := lab.New(t, lab.Options{Listener: ":", SSHD: sshd})
	return &guardLab{Lab: l, run: filepath.Join(l.Dir, "run")}
}

// knockssh runs the real knockssh in the server namespace with the lab's
// run directory.
func (g *guardLab) knockssh(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return g.knocksshEnv(t, nil, args...)
}

// knocksshEnv is knockssh with env added to the environment.
func (g *guardLab) knocksshEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := g.Server.Command(ctx, knocksshBin, args...)
	c.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+g.Dir, "KNOCKSSH_RUN_DIR="+g.run, "KNOCKSSH_PERSIST_ROOT="+g.root()), env...)
	c.Dir = g.Dir
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err = c.Run()
	return out.String(), errb.String(), err
}

// install runs --install with args and returns the pending install it
// recorded; the reverter is killed at the end of the test if still there.
func (g *guardLab) install(t *testing.T, tag string, args ...string) *firewall.Pending {
	t.Helper()
	args = append([]string{"--install", "--port", "22", "--sequence", "1234", "--window", "1", "--tag", tag}, args...)
	_, stderr, err := g.knockssh(t, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr)
	}
	if !strings.Contains(stderr, "knockssh: the rules revert at ") || !strings.Contains(stderr, `unless confirmed: knock in from a new session (knockssh HOST) and run "knockssh --confirm --tag `+tag+`" there`) {
		t.Errorf("--install --revert-after does not say when and how:\n%s", stderr)
	}
	if strings.Contains(stderr, "1234") {
		t.Errorf("stderr reveals the sequence: %s", stderr)
	}
	p, err := firewall.ReadPending(firewall.PendingFile(g.run, tag))
	if err != nil {
		t.Fatalf("the pending install: %v", err)
	}
	if p.PID <= 0 || !isReverter(p.PID, p.ID) {
		t.Fatalf("pid %d is not the reverter of install %s", p.PID, p.ID)
	}
	t.Cleanup(func() {
		if isReverter(p.PID, p.ID) {
			if pr, err := os.FindProcess(p.PID); err == nil {
				pr.Kill()
			}
		}
	})
	return p
}

// isReverter reports whether process pid runs and is the reverter of
// install id.
func isReverter(pid int, id string) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return err == nil && slices.Contains(strings.Split(string(env), "\x00"), "KNOCKSSH_REVERTER="+id)
}

// waitGone waits up to timeout for the reverter of p to exit (a zombie
// counts: its parent has gone, and init may not reap) and its pending file
// to go.
func (g *guardLab) waitGone(t *testing.T, p *firewall.Pending, timeout time.Duration) {
	t.Helper()
	path := firewall.PendingFile(g.run, p.Tag)
	deadline := time.Now().Add(timeout)
	for {
		_, err := os.Stat(path)
		if !isReverter(p.PID, p.ID) && errors.Is(err, fs.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: reverter %d running %v, pending file: %v", timeout, p.PID, isReverter(p.PID, p.ID), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGuardRevertsUnconfirmed: an install with --revert-after 2s that
// nobody confirms is reverted by its reverter, which then exits: the
// listener's part of the firewall is as before the install, and a rule
// someone else added meanwhile stays.
func TestGuardRevertsUnconfirmed(t *testing.T) {
	t.Parallel()
	g := newGuardLab(t, false)
	before := saveState(t, g.Lab)
	p := g.install(t, "GR", "--revert-after", "2s")
	if !strings.Contains(saveState(t, g.Lab), ":KNOCKS_GR ") {
		t.Fatal("--install --revert-after installed nothing")
	}
	for _, cmd := range []string{"iptables", "ip6tables"} {
		g.Server.Run(t, cmd, "-A", "INPUT", "-p", "tcp", "--dport", "80", "-j", "ACCEPT")
	}
	g.waitGone(t, p, 20*time.Second)
	if after := saveState(t, g.Lab); strings.Contains(after, "KNOCKS_GR") {
		t.Fatalf("the reverter left the listener:\n%s", after)
	}
	// The other rule is still there (deleting it fails the test
	// otherwise), and without it the firewall is as before.
	for _, cmd := range []string{"iptables", "ip6tables"} {
		g.Server.Run(t, cmd, "-D", "INPUT", "-p", "tcp", "--dport", "80", "-j", "ACCEPT")
	}
	if after := saveState(t, g.Lab); after != before {
		t.Errorf("after the revert the firewall is not as before the install:\n%s\nwant:\n%s", after, before)
	}
}

// TestGuardConfirmedFromKnock: the client knocks and logs in through the
// rules just installed (real knock, real ssh) and runs --confirm in that
// session, which succeeds and stops the reverter long before the deadline;
// the rules stay. The install asked for --persist too: its boot hook and
// config are written by --confirm, not before.
func TestGuardConfirmedFromKnock(t *testing.T) {
	t.Parallel()
	lab.Require(t, "ssh", "sshd")
	g := newGuardLab(t, true)
	for _, d := range []string{"usr/sbin", "usr/share/netfilter-persistent/plugins.d"} {
		os.MkdirAll(filepath.Join(g.root(), d), 0o755)
	}
	writeFile(t, filepath.Join(g.root(), "usr/sbin/netfilter-persistent"), "#!/bin/sh\n")
	hook := filepath.Join(g.root(), "usr/share/netfilter-persistent/plugins.d/35-knockssh-GK")
	conf := filepath.Join(g.root(), "etc/knockssh/GK.conf")
	p := g.install(t, "GK", "--revert-after", "40s", "--persist")
	installed := saveState(t, g.Lab)
	for _, f := range []string{hook, conf} {
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s written before --confirm: %v", f, err)
		}
	}
	kc := filepath.Join(g.Dir, "knock_config")
	writeFile(t, kc, "Host lab\n    KnockSequence 1234\n    KnockPort 22\n    KnockWindow 1\n    KnockShare no\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// First, with SSH_CONNECTION gone as sudo's env_reset drops it, an
	// --install --dry-run without --revert-after of another tag: it still
	// hints at the guard, as sshd is among its parents.
	remote := fmt.Sprintf("env -u SSH_CONNECTION -u SSH_CLIENT %[3]s --install --dry-run --port 22 --sequence 5678 --tag GX >/dev/null; KNOCKSSH_RUN_DIR=%[1]s KNOCKSSH_PERSIST_ROOT=%[2]s %[3]s --confirm --tag GK", g.run, g.root(), knocksshBin)
	c := g.Client.Command(ctx, knocksshBin, "-F", g.SSH.Config, "lab", remote)
	c.Env = append(os.Environ(), "XDG_CACHE_HOME="+g.Dir, "KNOCKSSH_CONFIG="+kc)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("knockssh lab %q: %v\nstdout: %s\nstderr: %s", remote, err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "knockssh: hint: installing over ssh: --revert-after 5m") {
		t.Errorf("--install over ssh, without SSH_CONNECTION, gives no hint:\n%s", stderr.String())
	}
	if want := "boot: netfilter-persistent runs " + hook + " at start, which installs the listener again; its sequence is in " + conf + " (mode 0600)\nlistener KNOCKS_GK confirmed: the rules stay\n"; stdout.String() != want {
		t.Errorf("--confirm from the knocked session said %q, want %q", stdout.String(), want)
	}
	if data, err := os.ReadFile(conf); err != nil || !strings.Contains(string(data), "KnockSequence 1234\n") {
		t.Errorf("the config after --confirm: %v\n%s", err, data)
	}
	if data, err := os.ReadFile(hook); err != nil || !strings.Contains(string(data), " --install --config "+conf+" ") {
		t.Errorf("the hook after --confirm: %v\n%s", err, data)
	}
	g.waitGone(t, p, 10*time.Second) // within 10 s, 30 s before its deadline: --confirm stopped it
	if after := saveState(t, g.Lab); after != installed {
		t.Errorf("after --confirm the rules are not as installed:\n%s\nwant:\n%s", after, installed)
	}
}

// TestGuardConfirmRefused: without a connection through the knock since
// the install (the accept rule counted none), --confirm refuses, saying
// how to confirm, and the install stays pending: its file (0600, in a 0700
// directory) and its reverter stay, and --install and --uninstall of the
// tag refuse. --revert then reverts at once and stops the reverter; after
// it --confirm and --revert find nothing pending.
func TestGuardConfirmRefused(t *testing.T) {
	t.Parallel()
	g := newGuardLab(t, false)
	before := saveState(t, g.Lab)
	// Over ssh, without --revert-after, --install hints at it.
	const hint = "knockssh: hint: installing over ssh: --revert-after 5m reverts the rules unless confirmed from a new session that came in through the knock (knockssh --confirm), in case they lock you out\n"
	overSSH := []string{"SSH_CONNECTION=192.0.2.2 50000 192.0.2.1 22"}
	for _, guard := range []bool{false, true} {
		args := []string{"--install", "--dry-run", "--port", "22", "--sequence", "1234", "--window", "1", "--tag", "GC"}
		if guard {
			args = append(args, "--revert-after", "1m")
		}
		if _, stderr, err := g.knocksshEnv(t, overSSH, args...); err != nil || strings.Contains(stderr, hint) == guard {
			t.Errorf("%v over ssh: %v, want the hint %v:\n%s", args, err, !guard, stderr)
		}
	}
	p := g.install(t, "GC", "--revert-after", "60s")
	installed := saveState(t, g.Lab)
	path := firewall.PendingFile(g.run, "GC")
	for file, want := range map[string]os.FileMode{g.run: 0o700, path: 0o600} {
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v, want %04o", file, fi.Mode(), err, want)
		}
	}

	_, stderr, err := g.knockssh(t, "--confirm", "--tag", "GC")
	if err == nil || !strings.Contains(stderr, "knockssh: --confirm: no connection has come in through the knock since the install (the accept rule of listener KNOCKS_GC counted none)") ||
		!strings.Contains(stderr, "knockssh: hint: from a new terminal, knock in (knockssh HOST) and run knockssh --confirm --tag GC in that session\n") {
		t.Errorf("--confirm without a knocked connection: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(path); err != nil || !isReverter(p.PID, p.ID) {
		t.Errorf("after the refused --confirm: pending file %v, reverter running %v", err, isReverter(p.PID, p.ID))
	}
	for _, mode := range []string{"--install", "--uninstall"} {
		_, stderr, err := g.knockssh(t, mode, "--port", "22", "--sequence", "1234", "--window", "1", "--tag", "GC")
		if err == nil || !strings.Contains(stderr, "knockssh: "+mode+": an install of listener KNOCKS_GC is pending (made with --revert-after, reverting at ") ||
			!strings.Contains(stderr, "knockssh: hint: confirm it from a session that came in through the knock (knockssh --confirm --tag GC) or revert it (knockssh --revert --tag GC) first\n") {
			t.Errorf("%s while pending: %v\n%s", mode, err, stderr)
		}
	}
	if after := saveState(t, g.Lab); after != installed {
		t.Errorf("the refusals changed the firewall:\n%s", after)
	}

	out, stderr, err := g.knockssh(t, "--revert", "--tag", "GC")
	if err != nil || out != "iptables: listener KNOCKS_GC reverted\nip6tables: listener KNOCKS_GC reverted\n" {
		t.Fatalf("--revert: %v\n%s%s", err, out, stderr)
	}
	g.waitGone(t, p, 10*time.Second)
	if after := saveState(t, g.Lab); after != before {
		t.Errorf("after --revert the firewall is not as before the install:\n%s\nwant:\n%s", after, before)
	}
	for _, mode := range []string{"--confirm", "--revert"} {
		_, stderr, err := g.knockssh(t, mode, "--tag", "GC")
		if err == nil || stderr != "knockssh: "+mode+": no install of listener KNOCKS_GC is pending (none made with --revert-after is waiting for its deadline: one that reached it unconfirmed was reverted, as syslog says)\n" {
			t.Errorf("%s with nothing pending: %v\n%s", mode, err, stderr)
		}
	}
}
