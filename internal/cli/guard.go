package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/flock"
)

// The lockout guard, as iptables-apply's: "--install --revert-after D"
// records the install as pending (firewall.Pending, a root-only file of
// the run directory) and starts a reverter, this binary again in a session
// of its own, that reverts it at the deadline unless "--confirm", run from
// a session that came in through the knock, has removed the file first.
// "--revert" reverts at once. One lock per tag orders them.

// reverterEnv, set to the install's ID, makes "knockssh --revert --tag
// TAG" the reverter: it waits for the deadline and reverts that install
// only. It is no option, so that no command line a user types starts one;
// --confirm reads it from /proc/PID/environ to tell its reverter from
// another process that got the PID since.
const reverterEnv = "KNOCKSSH_REVERTER"

// runDirEnv names the run directory instead of defaultRunDir (for tests).
const runDirEnv = "KNOCKSSH_RUN_DIR"

// defaultRunDir holds the pending installs and their locks; it is on a
// tmpfs, as the rules are lost at a reboot unless persisted.
const defaultRunDir = "/run/knockssh"

// runDir returns the run directory: $KNOCKSSH_RUN_DIR, else defaultRunDir;
// in a network namespace other than init's, whose firewall is its own, a
// directory of that namespace's in it (net-INODE).
func runDir() string {
	if d := os.Getenv(runDirEnv); d != "" {
		return d
	}
	if ns := netnsName(); ns != "" {
		return filepath.Join(defaultRunDir, ns)
	}
	return defaultRunDir
}

// checkRevertAfter checks --revert-after.
func checkRevertAfter(d time.Duration) error {
	if d < 0 || d > 0 && d < time.Second {
		return fmt.Errorf("--revert-after %v: want at least 1s, or 0 for no guard", d)
	}
	return nil
}

// tagArg is " --tag TAG" for the commands the messages suggest, "" for the
// default tag.
func tagArg(tag string) string {
	if tag == "" {
		return ""
	}
	return " --tag " + tag
}

// lockTag creates the run directory if needed and takes tag's lock in it.
func lockTag(ctx context.Context, dir, tag string, stderr io.Writer) (*os.File, error) {
	if err := firewall.MakeRunDir(dir); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	return flock.Lock(ctx, firewall.PendingFile(dir, tag)+".lock", func() {
		fmt.Fprintf(stderr, "knockssh: waiting for another knockssh changing the listener of tag %s\n", tagName(tag))
	})
}

func tagName(tag string) string {
	if tag == "" {
		return "INPUT"
	}
	return tag
}

// notPending refuses to change spec's listener while an install of its tag
// is pending, and when its file cannot be read.
func notPending(spec firewall.Spec) error {
	path := firewall.PendingFile(runDir(), spec.Tag)
	p, err := firewall.ReadPending(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &hintError{err: err, hint: fmt.Sprintf("if no install made with --revert-after is pending, remove %s", path)}
	}
	when := ", reverting at " + p.Deadline.Local().Format("15:04:05 MST")
	if !reverterRunning(p.PID, p.ID) {
		when = ", but its reverter is not running"
	}
	return &hintError{
		err:  fmt.Errorf("an install of listener %s is pending (made with --revert-after%s)", spec.Listener(), when),
		hint: fmt.Sprintf("confirm it from a session that came in through the knock (knockssh --confirm%s) or revert it (knockssh --revert%s) first", tagArg(spec.Tag), tagArg(spec.Tag)),
	}
}

// sshdAncestor reports whether process pid or one of its ancestors is
// sshd (OpenSSH's sshd, or sshd-session, its per-session process from 9.8
// on); stat returns a process's command name and parent.
func sshdAncestor(pid int, stat func(pid int) (comm string, ppid int, err error)) bool {
	for i := 0; i < 64 && pid > 1; i++ {
		comm, ppid, err := stat(pid)
		if err != nil {
			return false
		}
		if comm == "sshd" || comm == "sshd-session" {
			return true
		}
		pid = ppid
	}
	return false
}

// parseStat returns the command name and the parent of a /proc/PID/stat
// line, "PID (COMM) STATE PPID ...", COMM being any bytes.
func parseStat(line string) (comm string, ppid int, err error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return "", 0, errors.New("no (command) in the process's stat")
	}
	f := strings.Fields(line[end+1:])
	if len(f) < 2 {
		return "", 0, errors.New("no parent in the process's stat")
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return "", 0, errors.New("the parent in the process's stat is not a number")
	}
	return line[open+1 : end], ppid, nil
}

// startGuard records the install just applied as pending and starts its
// reverter; it returns the line that tells the user. When either fails, it
// rolls the install back and says so in its error.
//
// boot, when not nil, is --persist's: written once confirmed.
func startGuard(ctx context.Context, o *options, in *firewall.Installer, changes []firewall.Change, boot *persistence) (string, error) {
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	p := in.NewPending(changes)
	p.Deadline = time.Now().Add(o.revertAfter)
	if boot != nil {
		p.PersistArgv, p.PersistConfig = boot.argv, boot.config
	}
	path := firewall.PendingFile(runDir(), in.Spec.Tag)
	undo := func(err error) error {
		if rb := p.Revert(work, in.Runner); rb != nil {
			if _, serr := os.Lstat(path); serr == nil {
				return fmt.Errorf("%w; rolling back failed too: %v (the install stays pending: knockssh --revert%s retries)", err, rb, tagArg(in.Spec.Tag))
			}
			return fmt.Errorf("%w; rolling back failed too: %v", err, rb)
		}
		os.Remove(path)
		return fmt.Errorf("%w (rolled back: the listener's rules are as they were, and no other rule was touched)", err)
	}
	if err := p.Count(work, in.Runner); err != nil {
		return "", undo(err)
	}
	if err := firewall.WritePending(path, p); err != nil {
		return "", undo(fmt.Errorf("recording the pending install: %w", err))
	}
	pid, err := startReverter(tagName(in.Spec.Tag), p.ID)
	if err != nil {
		return "", undo(fmt.Errorf("starting the reverter: %w", err))
	}
	p.PID = pid
	if err := firewall.WritePending(path, p); err != nil {
		stopReverter(pid, p.ID)
		return "", undo(fmt.Errorf("recording the pending install: %w", err))
	}
	return fmt.Sprintf("the rules revert at %s (in %v) unless confirmed: knock in from a new session (knockssh HOST) and run \"knockssh --confirm%s\" there",
		p.Deadline.Local().Format("15:04:05 MST"), o.revertAfter, tagArg(in.Spec.Tag)), nil
}

// guardHint suggests --revert-after to whoever installs over ssh without
// it.
func guardHint(stderr io.Writer, o *options) {
	if o.revertAfter == 0 && overSSH() {
		fmt.Fprintln(stderr, "knockssh: hint: installing over ssh: --revert-after 5m reverts the rules unless confirmed from a new session that came in through the knock (knockssh --confirm), in case they lock you out")
	}
}

func runConfirm(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	return settle(ctx, o, fs, s, false)
}

func runRevert(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	if id := os.Getenv(reverterEnv); id != "" {
		return reverter(ctx, o.tag, id)
	}
	return settle(ctx, o, fs, s, true)
}

// settle is --confirm (revert false) and --revert: under the tag's lock,
// keep or revert the pending install, remove its file and stop its
// reverter.
func settle(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio, revert bool) int {
	mode := "--confirm"
	if revert {
		mode = "--revert"
	}
	spec, err := serverSpec(o, fs, s.err, false)
	if err == nil {
		err = checkRevertAfter(o.revertAfter)
	}
	if err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitUsage
	}
	if runtime.GOOS != "linux" {
		fmt.Fprintf(s.err, "knockssh: %s works on Linux servers only\n", mode)
		return exitFail
	}
	if os.Geteuid() != 0 {
		fmt.Fprintf(s.err, "knockssh: %s changes the firewall and needs root\n", mode)
		return exitFail
	}
	dir := runDir()
	lock, err := lockTag(ctx, dir, spec.Tag, s.err)
	if err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitFail
	}
	defer lock.Close()
	path := firewall.PendingFile(dir, spec.Tag)
	p, err := firewall.ReadPending(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(s.err, "knockssh: %s: no install of listener %s is pending (none made with --revert-after is waiting for its deadline: one that reached it unconfirmed was reverted, as syslog says)\n", mode, spec.Listener())
		return exitFail
	}
	if err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitFail
	}
	if revert {
		if err := revertPending(ctx, p, path); err != nil {
			printErr(s.err, fmt.Errorf("%s: %w", mode, err))
			return exitFail
		}
		stopReverter(p.PID, p.ID)
		for _, f := range p.Families() {
			fmt.Fprintf(s.out, "%s: listener %s reverted\n", map[int]string{4: "iptables", 6: "ip6tables"}[f], spec.Listener())
		}
		return exitOK
	}
	knocked, err := p.Knocked(ctx, nil)
	if err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitFail
	}
	if !knocked {
		fmt.Fprintf(s.err, "knockssh: %s: no connection has come in through the knock since the install (the accept rule of listener %s counted none): confirming would not show that the rules let you in; they revert at %s\n",
			mode, spec.Listener(), p.Deadline.Local().Format("15:04:05 MST"))
		fmt.Fprintf(s.err, "knockssh: hint: from a new terminal, knock in (knockssh HOST) and run knockssh --confirm%s in that session\n", tagArg(spec.Tag))
		return exitFail
	}
	if len(p.PersistArgv) > 0 {
		if err := persistConfirmed(ctx, s.out, p); err != nil {
			printErr(s.err, fmt.Errorf("%s: %w (the install is still pending)", mode, err))
			return exitFail
		}
	}
	if err := os.Remove(path); err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitFail
	}
	stopReverter(p.PID, p.ID)
	fmt.Fprintf(s.out, "listener %s confirmed: the rules stay\n", spec.Listener())
	return exitOK
}

// revertPending reverts p, whose file is path, and removes the file; the
// revert runs to its end even when ctx is cancelled. When the revert
// fails, the file stays: the install is still pending.
func revertPending(ctx context.Context, p *firewall.Pending, path string) error {
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := p.Revert(work, nil); err != nil {
		return err
	}
	return os.Remove(path)
}

// reverter waits for the deadline of tag's pending install id and reverts
// it, unless it has been confirmed, reverted or replaced by then. It runs
// detached: its standard streams are /dev/null, and it says what it did in
// one line to syslog, without secrets.
func reverter(ctx context.Context, tag, id string) int {
	signal.Ignore(syscall.SIGHUP)
	dir := runDir()
	path := firewall.PendingFile(dir, tag)
	p, err := firewall.ReadPending(path)
	if err != nil || p.ID != id {
		return gone(tag, err)
	}
	t := time.NewTimer(time.Until(p.Deadline))
	select {
	case <-ctx.Done(): // --confirm stops it with SIGTERM
		return exitOK
	case <-t.C:
	}
	lock, err := lockTag(ctx, dir, tag, io.Discard)
	if err != nil {
		if ctx.Err() != nil {
			return exitOK // stopped while waiting: confirmed meanwhile
		}
		logLine(fmt.Sprintf("the reverter of tag %s cannot take its lock, and the install stays pending: run knockssh --revert --tag %s to see why", tag, tag))
		return exitFail
	}
	defer lock.Close()
	if p, err = firewall.ReadPending(path); err != nil || p.ID != id {
		return gone(tag, err)
	}
	listener := (firewall.Spec{Tag: p.Tag}).Listener()
	if err := revertPending(ctx, p, path); err != nil {
		logLine(fmt.Sprintf("reverting the unconfirmed install of listener %s failed: run knockssh --revert --tag %s to see why", listener, tag))
		return exitFail
	}
	logLine(fmt.Sprintf("reverted the install of listener %s: it was not confirmed by its deadline", listener))
	return exitOK
}

// gone is the reverter's end when its install's file is no longer its
// own: confirmed, reverted or replaced (no file, or another install's) is
// no news; a file it cannot read leaves the install pending, and syslog
// says so.
func gone(tag string, err error) int {
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return exitOK
	}
	logLine(fmt.Sprintf("the reverter of tag %s cannot read its pending install, which stays pending: run knockssh --revert --tag %s to see why", tag, tag))
	return exitFail
}

// persistConfirmed writes, for an install made with --persist, the boot
// hook and the config that --install would have written had it not been
// guarded; what it writes is what p recorded, the hook found again.
func persistConfirmed(ctx context.Context, w io.Writer, p *firewall.Pending) error {
	boot := newPersistence(p.Tag)
	kind, err := boot.boot.Detect()
	if err != nil {
		return err
	}
	if boot.hook, err = boot.boot.Hook(kind, p.PersistArgv); err != nil {
		return err
	}
	boot.argv, boot.config = p.PersistArgv, p.PersistConfig
	return boot.write(ctx, w)
}
