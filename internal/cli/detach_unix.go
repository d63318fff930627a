//go:build unix

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// detach points standard input, output and error at /dev/null: a proxy
// that goes on after ssh has gone must not hold the pipes of ssh's parent
// (ansible reads ssh's stderr to its end) nor write on the terminal.
func detach() {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer null.Close()
	for fd := range 3 {
		unix.Dup2(int(null.Fd()), fd)
	}
}
