//go:build unix

package knocker

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// synSender sends each knock as the SYN of a non-blocking connect whose
// socket is closed at once: the kernel sends exactly one SYN and, the socket
// being gone, never retransmits it. On Linux the socket also drops all it
// receives (muteReplies), so that no SYN-ACK completes a connection before
// the close. No privileges are needed.
type synSender struct {
	t      Target
	family int
	to     unix.Sockaddr
	from   unix.Sockaddr
}

func newSYNSender(t Target) (Sender, error) {
	s := &synSender{t: t}
	s.family, s.to = sockaddr(t.Addr)
	if t.Source.IsValid() {
		_, s.from = sockaddr(netip.AddrPortFrom(t.Source, 0))
	}
	return s, nil
}

func sockaddr(ap netip.AddrPort) (int, unix.Sockaddr) {
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16(), ZoneId: zoneID(a.Zone())}
}

func (s *synSender) Burst(n int) error {
	for i := 0; i < n; i++ {
		if err := s.one(); err != nil {
			return fmt.Errorf("sending tcp knock: %w", err)
		}
	}
	return nil
}

func (s *synSender) one() error {
	fd, err := unix.Socket(s.family, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		return err
	}
	if err := muteReplies(fd); err != nil {
		return err
	}
	if err := bindDevice(fd, s.family, s.t.Interface); err != nil {
		return err
	}
	if s.from != nil {
		if err := unix.Bind(fd, s.from); err != nil {
			return fmt.Errorf("binding to %v: %w", s.t.Source, err)
		}
	}
	err = unix.Connect(fd, s.to)
	if err == nil || errors.Is(err, unix.EINPROGRESS) {
		return nil
	}
	return err
}

func (s *synSender) Close() error { return nil }
