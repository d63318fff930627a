package frontend

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// relayFiles relays between a TCP connection and two pipes, ssh's
// ProxyCommand pipes, with splice(2): no copy through user space. The
// socket stays in the runtime's poller, so a direction with nothing to
// move parks its goroutine in epoll, not a thread in a blocking system
// call (a thread blocked in poll(2) for every packet had the runtime's
// monitor retake its processor thousands of times a second, which on a
// core shared with ssh cost a fifth of the throughput). The pipes stay
// blocking, as ssh made them. head's read goes through conn and its bytes
// to out by write(2), once; splice takes the rest. done is false, and
// nothing is done, when the arguments are not a TCP connection and two
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
	infd, outfd := int(inF.Fd()), int(outF.Fd()) // Fd makes them blocking
	if !isPipe(infd) || !isPipe(outfd) {
		return false, nil
	}
	growPipe(infd)
	growPipe(outfd)
	defer tc.Close()
	upErr := make(chan error, 1)
	go func() {
		err := upload(rc, infd)
		tc.CloseWrite() // the server sees EOF
		upErr <- err
	}()
	if head != nil {
		b, err := head(conn)
		if err != nil {
			return true, err
		}
		if err := writeAll(outfd, b); err != nil && !isEPIPE(err) {
			return true, err
		}
	}
	if err := download(rc, outfd); err != nil && !isEPIPE(err) {
		return true, err
	}
	// The server closed. An upload still waiting for stdin is left: the
	// process exits and ssh sees the ProxyCommand end.
	select {
	case err := <-upErr:
		if err != nil && !isEPIPE(err) && !errors.Is(err, net.ErrClosed) {
			return true, err
		}
	default:
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

// download splices from the socket to the pipe out until the server's end
// of file. The socket is non-blocking: EAGAIN means it is empty, and the
// poller waits. The pipe blocks while full, as ssh reads.
func download(rc syscall.RawConn, out int) error {
	var opErr error
	err := rc.Read(func(sock uintptr) bool {
		for {
			n, err := unix.Splice(int(sock), nil, out, nil, spliceMax, unix.SPLICE_F_MOVE)
			switch {
			case err == nil && n > 0, errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EAGAIN):
				return false // wait until the socket is readable
			case err != nil:
				opErr = err
			}
			return true // end of file, or an error
		}
	})
	return errors.Join(opErr, err)
}

// upload splices from the pipe in to the socket until in's end of file.
// It waits for in with poll(2) outside the connection's locks, so that
// closing the connection never waits for stdin; the splice itself does
// not block on in (SPLICE_F_NONBLOCK), and the poller waits while the
// socket's buffer is full.
func upload(rc syscall.RawConn, in int) error {
	for {
		if err := waitReadable(in); err != nil {
			return err
		}
		var opErr error
		eof := false
		err := rc.Write(func(sock uintptr) bool {
			for {
				n, err := unix.Splice(in, nil, int(sock), nil, spliceMax, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				switch {
				case err == nil && n > 0, errors.Is(err, unix.EINTR):
					continue
				case err == nil:
					eof = true
				case errors.Is(err, unix.EAGAIN):
					// The socket is full: the poller waits until it is
					// writable (edge-triggered: only when it is not now).
					// Or the pipe is empty: back to waiting for stdin,
					// unless data came meanwhile.
					if !ready(int(sock), unix.POLLOUT) {
						return false
					}
					if ready(in, unix.POLLIN) {
						continue
					}
				default:
					opErr = err
				}
				return true
			}
		})
		if err := errors.Join(opErr, err); err != nil || eof {
			return err
		}
	}
}

// writeAll writes b to the blocking file fd.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		m, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

// waitReadable waits until fd has data or its end of file.
func waitReadable(fd int) error {
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// ready reports whether fd is ready for events now (or has an error or
// hang-up to report).
func ready(fd int, events int16) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents != 0
}
