package frontend

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

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

// relayPipes starts Relay between a TCP connection to serve, run on the
// loopback interface, and two real pipes (the splice path); it returns
// the test's ends of the pipes and Relay's result.
func relayPipes(t *testing.T, serve func(c net.Conn)) (in *os.File, out *os.File, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// A fixed receive buffer (no autotuning: at most twice rmem_max), so
	// that whether the download batches does not depend on how fast the
	// buffer grows.
	conn.(*net.TCPConn).SetReadBuffer(4 << 20)
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	ch := make(chan error, 1)
	go func() { ch <- Relay(conn, inR, outW, nil); outW.Close(); inR.Close() }()
	return inW, outR, ch
}

// TestRelayBatchTail: a bulk download batches its wake-ups (the socket's
// low-water mark rises), and the end of the bulk and the few bytes the
// server sends after it, waiting for an answer without closing, still
// reach ssh: a batch that waited for its mark to fill would hang here.
func TestRelayBatchTail(t *testing.T) {
	const bulk = 64 << 20
	before := batches.Load()
	bulkIn := make(chan struct{})
	in, out, done := relayPipes(t, func(c net.Conn) {
		c.Write(make([]byte, bulk))
		// The bulk's last bytes, less than a mark, came by batchWait.
		<-bulkIn
		c.Write([]byte("tail\n"))
		buf := make([]byte, 4)
		io.ReadFull(c, buf) // "ack\n", then close
	})
	select {
	case err := <-readBulkTail(out, bulk, bulkIn):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the tail did not reach ssh within 20s: the batch holds it back")
	}
	in.Write([]byte("ack\n"))
	waitRelay(t, done)
	in.Close()
	out.Close()
	if batches.Load() == before {
		t.Errorf("a %d MiB download never batched its wake-ups", bulk>>20)
	}
}

// readBulkTail reads bulk bytes from out, closes bulkIn (the server's cue
// to send its tail), then reads "tail\n"; the channel says how that went.
func readBulkTail(out *os.File, bulk int64, bulkIn chan<- struct{}) <-chan error {
	got := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.Discard, out, bulk)
		close(bulkIn)
		if err != nil {
			got <- err
			return
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "tail\n" {
			got <- fmt.Errorf("after the bulk: %q, %v", buf, err)
			return
		}
		got <- nil
	}()
	return got
}

// TestRelayBatchBusyUpload: batchWait counts from the download's first
// wait for its mark, not from each wait: with the upload waking the relay
// all the while, the end of a bulk download and a few bytes after it, each
// less than a mark, still reach ssh while the upload goes on. Counted from
// each wait, they waited for the upload to pause.
func TestRelayBatchBusyUpload(t *testing.T) {
	const bulk = 8 << 20
	before := batches.Load()
	bulkIn, finish := make(chan struct{}), make(chan struct{})
	in, out, done := relayPipes(t, func(c net.Conn) {
		go io.Copy(io.Discard, c) // the upload
		c.Write(make([]byte, bulk))
		<-bulkIn
		c.Write([]byte("tail\n"))
		<-finish // no end of file, which would flush what is held
	})
	// A shell loop keeps the upload busy, a line at a time: a process of
	// its own, which no goroutine scheduling pauses, slower than the
	// server's reads, so that the relay wakes for each line rather than
	// for room in the socket's buffer.
	yes := exec.Command("sh", "-c", "while :; do echo; done")
	yes.Stdout = in
	if err := yes.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readBulkTail(out, bulk, bulkIn):
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the end of the download did not reach ssh within 10s while the upload went on")
	}
	yes.Process.Kill()
	yes.Wait()
	close(finish)
	in.Close()
	waitRelay(t, done)
	out.Close()
	if batches.Load() == before {
		t.Errorf("a %d MiB download never batched its wake-ups", bulk>>20)
	}
}

// TestRelayUrgentByte: a server's urgent byte (MSG_OOB), where splice
// stops, neither stalls nor spins the relay: it steps over the byte, as
// nc's reads do, and what follows reaches ssh.
func TestRelayUrgentByte(t *testing.T) {
	finish := make(chan struct{})
	in, out, done := relayPipes(t, func(c net.Conn) {
		c.Write([]byte("abc"))
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return
		}
		rc.Control(func(fd uintptr) { unix.Send(int(fd), []byte("!"), unix.MSG_OOB) })
		c.Write([]byte("def\n"))
		<-finish
	})
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 7)
		n, _ := io.ReadFull(out, buf)
		got <- string(buf[:n])
	}()
	select {
	case s := <-got:
		if s != "abcdef\n" {
			t.Errorf("ssh got %q, want \"abcdef\\n\"", s)
		}
	case <-time.After(10 * time.Second):
		t.Error("what followed the urgent byte did not reach ssh within 10s")
	}
	close(finish)
	waitRelay(t, done)
	in.Close()
	out.Close()
}

// TestRelayYieldsToRuntime: with one processor, a relay lets the rest of
// the process run, a garbage collection (which stops the world) and
// timers: when it waits for a trickle of data (its waits always short,
// so raw system calls the runtime does not see) and when it is idle (its
// wait long past the raw part).
func TestRelayYieldsToRuntime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, trickle := range []bool{true, false} {
		stop := make(chan struct{})
		in, out, done := relayPipes(t, func(c net.Conn) {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); !trickle || err != nil {
						<-stop
						return
					}
				}
			}
		})
		go io.Copy(io.Discard, out)
		time.Sleep(50 * time.Millisecond) // the relay at work, or idle
		finished := make(chan struct{})
		go func() {
			for range 5 {
				runtime.GC()
				time.Sleep(10 * time.Millisecond)
			}
			close(finished)
		}()
		select {
		case <-finished:
		case <-time.After(20 * time.Second):
			t.Fatalf("trickle %v: 5 garbage collections and sleeps of 10ms did not finish within 20s beside the relay", trickle)
		}
		close(stop)
		waitRelay(t, done)
		in.Close()
		out.Close()
	}
}

// waitRelay fails the test unless Relay returns, without an error, within
// 10 s.
func waitRelay(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Relay: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Relay did not return after the server closed")
	}
}
