//go:build unix

package sshclient

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// openTTY opens the controlling terminal, for prompts.
func openTTY() (in, out *os.File, err error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	return f, f, nil
}

// consoleVT does nothing: Unix terminals interpret VT sequences.
func consoleVT(io.Writer) (vt bool, restore func()) { return false, func() {} }

// watchWindow calls changed on each SIGWINCH until stop or ctx is done.
func watchWindow(ctx context.Context, changed func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				changed()
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// terminateSignals end a session like a hang-up: raw mode is restored.
var terminateSignals = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
