//go:build unix

package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/knockssh/knockssh/internal/flock"
	"golang.org/x/sys/unix"
)

// shareSupported: OpenSSH shares connections on every Unix.
const shareSupported = true

// maxHold is the longest the first command keeps the others waiting for
// its master: a knock with its retries and a login fit, and should ssh not
// become a master after all, the others then knock for themselves.
const maxHold = 30 * time.Second

// privateDir makes dir (and its parents) and checks that it is the user's
// own, not a symbolic link, and closed to others: a socket there gives
// whoever reaches it the user's logged-in session.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to uid %d, not to this user", dir, st.Uid)
	case fi.Mode().Perm()&0o077 != 0:
		// Someone may have put a socket in it meanwhile: refuse rather
		// than trust what is there.
		return fmt.Errorf("%s is open to others (mode %04o): remove it, knockssh makes it again", dir, fi.Mode().Perm())
	}
	return nil
}

// alive reports whether a master answers on the socket; refused says a
// socket (or file) is there with nobody behind it.
func (s *Share) alive() (ok, refused bool) {
	fi, err := os.Lstat(s.Socket)
	if err != nil {
		return false, false
	}
	if st, isUnix := fi.Sys().(*syscall.Stat_t); fi.Mode().Type() != os.ModeSocket || isUnix && int(st.Uid) != os.Getuid() {
		return false, true // not a master of ours: cleared as a dead one
	}
	c, err := net.DialTimeout("unix", s.Socket, time.Second)
	if err != nil {
		return false, errors.Is(err, syscall.ECONNREFUSED)
	}
	c.Close()
	return true, false
}

// RunShared runs ssh's argv, which carries s.Args(), so that one knock
// serves every command to the host. When a master answers, ssh runs over
// it at once (Exec). Otherwise the first command takes the host's lock and
// runs ssh, which knocks and becomes the master, as a child; the lock goes
// when the master answers or ssh ends, and the commands that waited for it
// then run over the master. A socket with nobody behind it is removed.
func RunShared(ctx context.Context, argv []string, s *Share, waiting func()) (int, error) {
	if ok, _ := s.alive(); ok {
		return Exec(s.joinArgv(argv))
	}
	f, err := flock.Lock(ctx, s.Socket+".lock", waiting) // serializes the making of the master
	if err != nil {
		if ctx.Err() != nil {
			return 255, err
		}
		return Exec(argv) // no lock (ENOLCK, say): share without one
	}
	ok, refused := s.alive()
	if ok {
		f.Close()
		return Exec(s.joinArgv(argv))
	}
	if refused {
		os.Remove(s.Socket) // a dead master's: ours to clear, under the lock
	}
	var log *os.File
	if s.Log != "" {
		if log, err = os.OpenFile(s.Log, os.O_RDWR|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600); err != nil {
			f.Close()
			return 255, err
		}
		defer os.Remove(s.Log)
		defer log.Close()
	}
	// copyLog passes on what the ProxyCommand wrote since the last call.
	copyLog := func() {
		if log != nil {
			io.Copy(os.Stderr, log)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The terminal's signals reach ssh, in the same process group; those
	// sent to knockssh alone are passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		f.Close()
		return 255, err
	}
	done := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		// Until the master answers: pass on the ProxyCommand's messages
		// (the knock's), then let the waiting commands in. Should ssh
		// never become a master (a ControlPath it could not bind), the
		// others wait no longer than maxHold, then go their own way.
		defer close(copied)
		defer f.Close() // the lock goes with the file
		hold := time.After(maxHold)
		for {
			select {
			case <-done:
				return
			case <-hold:
				f.Close() // the others go their own way; the copying goes on
				hold = nil
			case <-time.After(20 * time.Millisecond):
				copyLog()
				if ok, _ := s.alive(); ok {
					return
				}
			}
		}
	}()
	go func() {
		for sig := range sigs {
			cmd.Process.Signal(sig)
		}
	}()
	err = cmd.Wait()
	close(done)
	<-copied
	copyLog()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// Die of the same signal, as ssh did: shells, git and make
			// tell a killed command from a failed one.
			if s.Log != "" {
				os.Remove(s.Log) // the deferred calls will not run
			}
			signal.Reset(ws.Signal())
			syscall.Kill(os.Getpid(), ws.Signal())
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 255, err
	}
	return 0, nil
}
