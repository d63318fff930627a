package sshclient

import (
	"context"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
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

// consoleVT makes the console w writes to interpret VT sequences
// (ENABLE_VIRTUAL_TERMINAL_PROCESSING, and DISABLE_NEWLINE_AUTO_RETURN so
// that a line feed moves down only, as on a terminal, where the console
// takes it) and says whether it does; restore sets the console's mode back.
// Consoles older than Windows 10 1511 refuse it.
func consoleVT(w io.Writer) (vt bool, restore func()) {
	restore = func() {}
	f, ok := w.(*os.File)
	if !ok {
		return false, restore
	}
	h := windows.Handle(f.Fd())
	var old uint32
	if windows.GetConsoleMode(h, &old) != nil {
		return false, restore
	}
	for _, mode := range []uint32{
		old | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING | windows.DISABLE_NEWLINE_AUTO_RETURN,
		old | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING,
	} {
		if windows.SetConsoleMode(h, mode) == nil {
			return true, func() { windows.SetConsoleMode(h, old) }
		}
	}
	return false, restore
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
