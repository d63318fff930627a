package sshwrap

import (
	"context"
	"os"
	"os/signal"
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

// notifyTerminate calls cancel when the console is closed, the user logs
// off or the system shuts down (SIGTERM on Windows), until stop.
func notifyTerminate(cancel func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
