package frontend

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relayFiles relays between a TCP connection and two pipes, ssh's
// ProxyCommand pipes, with splice(2): no copy through user space. As nc
// does, one thread moves both directions and waits for both in one
// ppoll(2); it never blocks anywhere else (the socket is non-blocking,
// the splices do not wait for the pipes), and it waits outside the
// runtime's scheduler, so that no wake-up goes through the netpoller, a
// goroutine switch or a handoff of the processor: the Go relay's own CPU
// is a few system calls per splice, as nc's is per read. A bulk download
// is batched (see minBatch), so that it wakes the relay a fifth as often
// as it wakes nc. head's reads wait in that same loop (the upload goes on
// meanwhile) and its bytes go to out by write(2), once. done is false,
// and nothing is done, when the arguments are not a TCP connection and two
// pipes.
func relayFiles(conn net.Conn, in io.Reader, out io.Writer, head Head) (done bool, err error) {
	tc, ok := conn.(*net.TCPConn)
	inF, ok1 := in.(*os.File)
	outF, ok2 := out.(*os.File)
	if !ok || !ok1 || !ok2 {
		return false, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false, nil
	}
	sock := -1
	if rc.Control(func(fd uintptr) { sock = int(fd) }) != nil || sock < 0 {
		return false, nil
	}
	infd, outfd := int(inF.Fd()), int(outF.Fd())
	if !isPipe(infd) || !isPipe(outfd) {
		return false, nil
	}
	growPipe(infd)
	growPipe(outfd)
	defer tc.Close()
	// The descriptors stay open while the loop uses them: tc is closed
	// when it ends, in and out belong to the caller.
	defer runtime.KeepAlive(inF)
	defer runtime.KeepAlive(outF)
	r := &relay{
		sock: sock, in: infd, out: outfd,
		down: waitOn{sock, unix.POLLIN}, up: waitOn{infd, unix.POLLIN}, upOpen: true,
	}
	if head != nil {
		b, err := head(&headConn{Conn: tc, r: r})
		if err != nil {
			return true, err
		}
		if err := writeAll(outfd, b); err != nil {
			if isEPIPE(err) {
				return true, nil
			}
			return true, err
		}
	}
	if _, err := r.run(false, time.Time{}); err != nil && !isEPIPE(err) {
		return true, err
	}
	// The server closed. An upload still open is left: the process exits
	// and ssh sees the ProxyCommand end.
	if r.upErr != nil && !isEPIPE(r.upErr) {
		return true, r.upErr
	}
	return true, nil
}

// isPipe reports whether fd is a pipe (or FIFO), which splice(2) needs on
// one side.
func isPipe(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

// pipeSizes are the capacities growPipe tries, largest first: 1 MiB is the
// most an unprivileged process may ask (fs.pipe-max-size's default).
var pipeSizes = []int{1 << 20, 256 << 10}

// growPipe raises the capacity of fd, when it is a pipe, from the 64 KiB
// ssh's pipes have. ssh reads its ProxyCommand's output up to 256 KiB at a
// time (ssh_packet_process_read), so a larger pipe wakes it less often and
// each splice moves more. Failing (not a pipe, the user's pipe quota
// spent) changes nothing.
func growPipe(fd int) {
	for _, size := range pipeSizes {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, size); err == nil {
			return
		}
	}
}

// spliceMax is the most one splice(2) call asks to move.
const spliceMax = 1 << 20

// A waitOn is what a direction of the relay waits for: events on fd.
type waitOn struct {
	fd     int
	events int16
}

// A relay is the state of relayFiles' loop: for each direction, what it
// waits for. The download (sock to out) waits for sock to have data or,
// when it has and out is full, for out to have room; the upload (in to
// sock) likewise for in and sock.
type relay struct {
	sock, in, out int
	down, up      waitOn
	upOpen        bool      // in has not reached its end of file
	upErr         error     // why the upload stopped, when it failed
	mark          int       // the socket's SO_RCVLOWAT while batching, else 0
	held          time.Time // while batching, since when the download waits
	buf           []byte    // for read(2), where splice cannot go on
}

// The download batches a bulk transfer: once one wake-up has moved
// minBatch or more, the socket's low-water mark (SO_RCVLOWAT) rises to a
// quarter of its receive buffer, at most maxBatch, so that the kernel
// wakes the relay once per mark instead of once per arriving burst; a
// wait then lasts batchWait at most, after which the relay takes what has
// come, and when that was less than the mark (the transfer slowed down or
// ended, a session went interactive) the mark goes back to one byte.
// Every wake-up is two context switches on a core that ssh's decryption
// needs too, and the server's side of the connection wakes the relay
// from its own core: in make bench's 1 GiB scp, the relay woke 30,000
// times without batching and 6,000 with it, and its CPU went from 1.2
// times nc's to 0.4. The quarter keeps the mark from shrinking the
// receive window (the kernel lowers the window clamp for a mark larger
// than half the buffer's space). Held data waits batchWait at most: a
// millisecond of latency at the end of a bulk burst, none for keystrokes.
const (
	minBatch  = 64 << 10
	maxBatch  = 512 << 10
	batchWait = time.Millisecond
)

// batches counts the times a relay of this process started batching, for
// the tests.
var batches atomic.Int64

// batch starts batching (on) or stops it; a socket whose buffer is too
// small for a mark of minBatch does not batch.
func (r *relay) batch(on bool) {
	mark := 1
	if on {
		rcvbuf, err := unix.GetsockoptInt(r.sock, unix.SOL_SOCKET, unix.SO_RCVBUF)
		if mark = min(rcvbuf/4, maxBatch); err != nil || mark < minBatch {
			return
		}
	}
	if unix.SetsockoptInt(r.sock, unix.SOL_SOCKET, unix.SO_RCVLOWAT, mark) == nil {
		r.mark = mark
		if !on {
			r.mark = 0
		} else {
			batches.Add(1)
		}
	}
}

// run waits for the directions and moves what they can until the server's
// end of file (or an error) ends the download, and returns then. With
// head set it moves only the upload and returns readable true as soon as
// sock has data to read (or its end of file), or os.ErrDeadlineExceeded
// once deadline, when not zero, has passed.
func (r *relay) run(head bool, deadline time.Time) (readable bool, err error) {
	var fds [2]unix.PollFd
	for {
		n := 0
		down := r.down
		if head {
			down = waitOn{r.sock, unix.POLLIN}
		}
		fds[n] = unix.PollFd{Fd: int32(down.fd), Events: down.events}
		n++
		if r.upOpen {
			fds[n] = unix.PollFd{Fd: int32(r.up.fd), Events: r.up.events}
			n++
		}
		timeout := time.Duration(-1)
		if !deadline.IsZero() {
			if timeout = time.Until(deadline); timeout <= 0 {
				return false, os.ErrDeadlineExceeded
			}
		}
		// batchWait counts from the download's first wait for the mark,
		// not from each wait: the upload's wake-ups must not put it off.
		batching := !head && r.mark > 0 && down.fd == r.sock
		if batching {
			if r.held.IsZero() {
				r.held = time.Now()
			}
			timeout = max(0, batchWait-time.Since(r.held))
		}
		ready, err := ppoll(fds[:n], timeout)
		switch {
		case errors.Is(err, unix.EINTR):
			// A signal, or the runtime asking the thread back (to
			// preempt it for the garbage collector, say): give it.
			runtime.Gosched()
			continue
		case err != nil:
			return false, os.NewSyscallError("ppoll", err)
		}
		if n > 1 && fds[1].Revents != 0 {
			r.pumpUp()
		}
		if batching && fds[0].Revents == 0 && (ready == 0 || time.Since(r.held) >= batchWait) {
			// Less than the mark came within batchWait: take it, and
			// wake for every byte again.
			moved, end, err := r.pumpDown()
			if end || err != nil {
				return false, err
			}
			if moved < r.mark {
				r.batch(false)
			}
			continue
		}
		if fds[0].Revents != 0 {
			if head {
				return true, nil
			}
			moved, end, err := r.pumpDown()
			if end || err != nil {
				return false, err
			}
			if moved >= minBatch && r.mark == 0 {
				r.batch(true)
			}
		}
	}
}

// pumpDown splices from the socket to out until either would block, and
// sets what the download waits for next; end is the server's end of file.
func (r *relay) pumpDown() (moved int, end bool, err error) {
	r.held = time.Time{}
	for {
		n, err := splice(r.sock, r.out)
		moved += n
		switch {
		case n > 0, errors.Is(err, unix.EINTR):
			continue
		case err == nil:
			return moved, true, nil
		case errors.Is(err, unix.EAGAIN):
			// The socket is empty, or out is full: the socket's queue
			// tells which.
			if queued(r.sock) > 0 {
				r.down = waitOn{r.out, unix.POLLOUT}
				return moved, false, nil
			}
			if moved == 0 && atMark(r.sock) {
				// TCP's urgent mark, where splice stops (and the
				// queue seems empty, though poll says readable):
				// read(2) steps over the urgent byte, as nc's reads
				// do, and splice goes on after.
				n, end, err := r.readOver()
				if end || err != nil {
					return moved, end, err
				}
				if moved += n; n > 0 {
					continue
				}
			}
			r.down = waitOn{r.sock, unix.POLLIN}
			return moved, false, nil
		default:
			return moved, false, os.NewSyscallError("splice", err)
		}
	}
}

// readOver reads what the socket has by read(2), past an urgent byte
// where splice stops, and writes it to out; end is the server's end of
// file.
func (r *relay) readOver() (moved int, end bool, err error) {
	if r.buf == nil {
		r.buf = make([]byte, 64<<10)
	}
	n, err := unix.Read(r.sock, r.buf)
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		return 0, false, nil // only the urgent byte, or nothing after all
	case err != nil:
		return 0, false, os.NewSyscallError("read", err)
	case n == 0:
		return 0, true, nil
	}
	return n, false, writeAll(r.out, r.buf[:n])
}

// atMark reports whether the socket's next byte is TCP's urgent byte
// (SIOCATMARK); a raw system call, as splice is.
func atMark(fd int) bool {
	var n int32
	_, _, errno := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCATMARK, uintptr(unsafe.Pointer(&n)))
	return errno == 0 && n != 0
}

// pumpUp splices from in to the socket until either would block, and sets
// what the upload waits for next. At in's end of file, or when the upload
// fails, the write half of the socket is closed (the server sees its end
// of file) and the upload stops; the download goes on.
func (r *relay) pumpUp() {
	for {
		n, err := splice(r.in, r.sock)
		switch {
		case n > 0, errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			// in is empty, or the socket's buffer is full: in's
			// content tells which.
			if queued(r.in) > 0 {
				r.up = waitOn{r.sock, unix.POLLOUT}
			} else {
				r.up = waitOn{r.in, unix.POLLIN}
			}
			return
		case err != nil:
			r.upErr = os.NewSyscallError("splice", err)
		}
		r.upOpen = false
		unix.Shutdown(r.sock, unix.SHUT_WR)
		return
	}
}

// splice moves up to spliceMax bytes from in to out without waiting for
// either (the socket is non-blocking, the pipe is asked not to wait). It
// is a raw system call, as ppoll's first wait is: one that took a while
// (its thread preempted by ssh on a shared core, say) would otherwise
// have the runtime's monitor hand the processor to another thread, and
// take it back after, through futexes and another thread's wake-ups.
func splice(in, out int) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, spliceMax, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// queued returns how many bytes fd, a socket or a pipe, holds to be read,
// or 0 when it cannot tell: SIOCINQ, which is FIONREAD, on both; a raw
// system call, as splice is.
func queued(fd int) int {
	var n int32
	if _, _, errno := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCINQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return 0
	}
	return int(n)
}

// rawWait is how long a wait stays hidden from the runtime (see ppoll).
// A goroutine in a raw wait holds its processor: the runtime preempts it
// with a signal (the wait ends with EINTR, and the relay yields) once it
// has run 10 ms (forcePreemptNS) since it was last scheduled; with
// asynchronous preemption off, the wait's end and the next function
// call's check bound it. Beside a busy relay with one processor, a
// garbage collection waits tens of milliseconds at most.
const rawWait = 5 * time.Millisecond

// ppoll waits at most timeout (forever when negative) for fds. For the
// first rawWait it waits in a raw system call: the runtime does not see
// the thread leave, so it neither hands the processor to another thread
// nor wakes its monitor for it. With one processor (GOMAXPROCS follows
// the CPUs the process may use: one under taskset -c 0) a system call
// that blocks has the monitor retake the processor after 20 µs, every
// time: in a copy that waits a few microseconds thousands of times a
// second, that more than doubled the relay's CPU (2.0 s against 0.9 s
// for 4 GiB under taskset), taken from ssh's share of the core. A wait
// longer than rawWait (the connection idle) goes on in an ordinary
// blocking system call, which gives the processor up, so that an idle
// relay wakes nobody. A signal ends either wait (EINTR), as does the
// runtime's when it wants the thread back.
func ppoll(fds []unix.PollFd, timeout time.Duration) (int, error) {
	first := rawWait
	if timeout >= 0 {
		first = min(timeout, rawWait)
	}
	ts := unix.NsecToTimespec(first.Nanoseconds())
	n, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	switch {
	case errno != 0:
		return 0, errno
	case n > 0, timeout >= 0 && timeout <= rawWait:
		return int(n), nil
	}
	var rest *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec((timeout - rawWait).Nanoseconds())
		rest = &t
	}
	return unix.Ppoll(fds, rest, nil)
}

// A headConn is the connection as the relay's Head sees it: its reads
// wait in the relay's loop, which moves the upload meanwhile (a server
// may wait for the client's identification string before it sends its
// own), and honour the read deadline.
type headConn struct {
	net.Conn
	r        *relay
	deadline time.Time
}

// Read reads what the server sent, once the socket has data.
func (c *headConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		if _, err := c.r.run(true, c.deadline); err != nil {
			return 0, err
		}
		n, err := unix.Read(c.r.sock, b)
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		default:
			return 0, os.NewSyscallError("read", err)
		}
	}
}

// SetReadDeadline sets the deadline of the reads to come.
func (c *headConn) SetReadDeadline(t time.Time) error {
	c.deadline = t
	return nil
}

// SetDeadline sets the deadline of the reads to come; writes do not wait.
func (c *headConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// writeAll writes b to fd, waiting for room when fd is non-blocking (as
// an inherited descriptor may be: the relay changes no flag of ssh's).
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		m, err := unix.Write(fd, b)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if _, err := ppoll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
				return os.NewSyscallError("ppoll", err)
			}
			continue
		case err != nil:
			return os.NewSyscallError("write", err)
		}
		b = b[m:]
	}
	return nil
}
