package frontend

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// A Head reads what the server sends first, before Relay copies the
// rest: it returns the bytes to give ssh in their place, or an error that
// ends the relay.
type Head func(conn net.Conn) ([]byte, error)

// Relay copies in to conn and conn to out until the server closes the
// connection, as a ProxyCommand must: when in reaches end of file, the write
// half of conn is closed (so the server sees EOF) and the copy from the
// server goes on; when the server closes, Relay returns. head, when not
// nil, reads the server's first bytes, with the copy from in already
// under way (a server may wait for the client's identification string);
// what it returns goes to out first, and its error is Relay's. io.Copy
// lets the runtime use splice(2) where it can. On Linux, a TCP connection
// relayed to and from pipes (ssh's) takes a faster path: splice(2) between
// the socket and the pipes, with no copy through user space.
func Relay(conn net.Conn, in io.Reader, out io.Writer, head Head) error {
	if done, err := relayFiles(conn, in, out, head); done {
		return err
	}
	upErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		upErr <- err
	}()
	if head != nil {
		b, err := head(conn)
		if err != nil {
			conn.Close()
			return err
		}
		if _, err := out.Write(b); err != nil {
			conn.Close()
			return ignoreEPIPE(err)
		}
	}
	_, err := io.Copy(out, conn)
	conn.Close()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	// The server closed. If the upload is still blocked reading in, leave
	// it: the process exits and ssh sees the ProxyCommand end.
	select {
	case err := <-upErr:
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) && !isEPIPE(err) {
			return err
		}
	default:
	}
	return nil
}

// ignoreEPIPE returns err unless it is ssh gone (isEPIPE).
func ignoreEPIPE(err error) error {
	if isEPIPE(err) {
		return nil
	}
	return err
}

// isEPIPE reports a write to a peer that has gone, which is how a relay
// normally ends when ssh exits first.
func isEPIPE(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}
