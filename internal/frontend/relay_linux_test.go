package frontend

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGrowPipe: a pipe's capacity goes from 64 KiB to 1 MiB; a file that is
// no pipe is left alone.
func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd := int(w.Fd())
	before, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	growPipe(fd)
	after, _ := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if after != pipeSizes[0] {
		t.Errorf("pipe capacity %d KiB after growPipe (before %d KiB), want %d KiB", after>>10, before>>10, pipeSizes[0]>>10)
	}
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	growPipe(int(f.Fd())) // EBADF: nothing to do, nothing to fail
}
