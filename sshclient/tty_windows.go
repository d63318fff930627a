package sshclient

import (
	"context"
	"os"
	"syscall"
	"time"
)

// openTTY opens the console, for prompts.
func openTTY() (in, out *os.File, err error) {
	in, err = os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	out, err = os.OpenFile("CONOUT$", os.O_WRONLY, 0)
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, out, nil
}

// watchWindow calls changed every quarter second until stop or ctx is
// done: Windows has no SIGWINCH; changed sends only actual changes.
func watchWindow(ctx context.Context, changed func()) (stop func()) {
	t := time.NewTicker(250 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				changed()
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() {
		t.Stop()
		close(done)
	}
}

// terminateSignals: the console closed, the user logged off or the system
// shuts down (SIGTERM on Windows).
var terminateSignals = []os.Signal{syscall.SIGTERM}
