package frontend

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// relayFiles relays between a TCP connection and two files with system
// calls on their descriptors: splice(2) when the file is a pipe, as ssh's
// ProxyCommand pipes are, read(2) and write(2) otherwise. The pipes are
// blocking; the socket is not (a blocking splice from a TCP socket waits
// for its whole length), so a goroutine waits for it in poll(2). done is
// false when the arguments are not a TCP connection and two files.
func relayFiles(conn net.Conn, in io.Reader, out io.Writer) (done bool, err error) {
	tc, ok := conn.(*net.TCPConn)
	inF, ok1 := in.(*os.File)
	outF, ok2 := out.(*os.File)
	if !ok || !ok1 || !ok2 {
		return false, nil
	}
	sf, err := tc.File()
	if err != nil {
		return false, nil
	}
	sock := int(sf.Fd())
	if err := unix.SetNonblock(sock, true); err != nil {
		sf.Close()
		return false, nil
	}
	defer tc.Close()
	infd, outfd := int(inF.Fd()), int(outF.Fd()) // Fd makes them blocking
	upErr := make(chan error, 1)
	// Whichever direction ends last closes sf: the upload may still be
	// reading stdin when Relay returns, and must not shut down a
	// descriptor number reused since.
	var users atomic.Int32
	users.Store(2)
	release := func() {
		if users.Add(-1) == 0 {
			sf.Close()
		}
	}
	go func() {
		err := copyFD(sock, infd, sock)
		unix.Shutdown(sock, unix.SHUT_WR) // the server sees EOF
		release()
		upErr <- err
	}()
	err = copyFD(outfd, sock, sock)
	release()
	if err != nil && !isEPIPE(err) {
		return true, err
	}
	// The server closed. An upload still blocked reading stdin is left:
	// the process exits and ssh sees the ProxyCommand end.
	select {
	case err := <-upErr:
		if err != nil && !isEPIPE(err) {
			return true, err
		}
	default:
	}
	return true, nil
}

// copyFD copies from src to dst until src's end of file; one of them is
// sock, the non-blocking socket.
func copyFD(dst, src, sock int) error {
	for {
		n, err := unix.Splice(src, nil, dst, nil, 1<<20, unix.SPLICE_F_MOVE)
		switch {
		case err == nil && n == 0:
			return nil
		case err == nil, errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			if err := waitSock(sock, src == sock); err != nil {
				return err
			}
			continue
		case errors.Is(err, unix.EINVAL):
			return readWrite(dst, src, sock) // neither side is a pipe
		}
		return err
	}
}

// waitSock waits until the socket is readable (read) or writable.
func waitSock(sock int, read bool) error {
	ev := int16(unix.POLLOUT)
	if read {
		ev = unix.POLLIN
	}
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(sock), Events: ev}}, -1)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// readWrite copies from src to dst with read(2) and write(2).
func readWrite(dst, src, sock int) error {
	buf := make([]byte, 128<<10)
	for {
		n, err := unix.Read(src, buf)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			if err := waitSock(sock, true); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		case n == 0:
			return nil
		}
		for b := buf[:n]; len(b) > 0; {
			m, err := unix.Write(dst, b)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EAGAIN):
				if err := waitSock(sock, false); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			}
			b = b[m:]
		}
	}
}
