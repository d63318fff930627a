package knocker

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// synSender sends each knock as the SYN of a non-blocking connect, exactly
// once:
//
//   - Each knock has its own socket, set non-blocking (FIONBIO) and told
//     never to send its SYN again (SIO_TCP_INITIAL_RTO with
//     TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS, Windows 10 1709 and later;
//     older versions are refused). Without that, Windows sends the SYN again
//     after its retransmission timeout (a second or a few) and even after a
//     RST, and the server counts every copy as a knock: a retransmitted SYN
//     inside the window breaks the burst's count.
//   - connect must answer WSAEWOULDBLOCK: the connection attempt is the
//     stack's. Any other answer is an error naming the cause: no SYN left.
//   - Winsock never says when the SYN has left, and a socket closed right
//     after connect may take its SYN with it. So the sockets of a burst stay
//     open until the next burst starts (a window later, between the bursts
//     of a sequence), and at least synHold: the next burst, and Close, wait
//     until the last one is that old (only the back-to-back rounds that
//     clear the server's list after a failed attempt ever wait). Then each
//     is closed with SO_LINGER 0: an attempt still pending just ends (no
//     SYN is sent again, and none could be), one the server answered ends
//     with a RST, which counts as no knock.
//
// No privileges are needed. What cannot be known from here: whether the
// SYN actually left (a pending ARP or neighbour lookup holds it back), and
// whether Windows honours the no-retransmission setting for a non-loopback
// address (Microsoft documents it for every TCP socket; Go's own net package
// relies on it for loopback connects only). Use UDP knocks where the
// server allows them.
type synSender struct {
	t     Target
	ipv6  bool
	to    windows.Sockaddr
	from  windows.Sockaddr
	open  []windows.Handle // the last burst's sockets
	since time.Time        // when the last burst's connects returned
	// unsupported, when not nil, is why this Windows cannot send TCP
	// knocks; it fails the first burst, not NewSender, so that UDP knocks
	// work with a TCP probe sender that is never used.
	unsupported error
	// ifIndex is t.Interface's index, looked up once; ifErr fails each
	// knock as the lookup did.
	ifIndex uint32
	ifErr   error
}

// synHold is how long Close keeps the last burst's sockets open after
// their connects, for their SYNs to leave.
const synHold = 50 * time.Millisecond

func newSYNSender(t Target) (Sender, error) {
	v := windows.RtlGetVersion()
	s := &synSender{t: t, unsupported: synSupported(v.MajorVersion, v.BuildNumber)}
	s.ipv6, s.to = winSockaddr(t.Addr)
	if t.Interface != "" {
		s.ifIndex, s.ifErr = interfaceIndex(t.Interface)
	}
	if t.Source.IsValid() {
		_, s.from = winSockaddr(netip.AddrPortFrom(t.Source, 0))
	}
	return s, nil
}

func winSockaddr(ap netip.AddrPort) (ipv6 bool, sa windows.Sockaddr) {
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		return false, &windows.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}
	}
	var zone uint32
	if z := a.Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			zone = uint32(ifi.Index)
		} else if n, err := strconv.ParseUint(z, 10, 32); err == nil {
			zone = uint32(n)
		}
	}
	return true, &windows.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16(), ZoneId: zone}
}

func (s *synSender) Burst(n int) error {
	if s.unsupported != nil {
		return s.unsupported
	}
	s.closeOpen()
	defer func() { s.since = time.Now() }()
	for i := 0; i < n; i++ {
		h, err := s.one()
		if err != nil {
			return fmt.Errorf("sending tcp knock: %w", err)
		}
		s.open = append(s.open, h)
	}
	return nil
}

// one sends one SYN and returns its socket, still open.
func (s *synSender) one() (windows.Handle, error) {
	family := windows.AF_INET
	if s.ipv6 {
		family = windows.AF_INET6
	}
	h, err := windows.Socket(family, windows.SOCK_STREAM, windows.IPPROTO_TCP)
	if err != nil {
		return windows.InvalidHandle, fmt.Errorf("socket: %w", err)
	}
	if err := s.prepare(h); err != nil {
		windows.Closesocket(h)
		return windows.InvalidHandle, err
	}
	if err := connectResult(windows.Connect(h, s.to)); err != nil {
		windows.Closesocket(h)
		return windows.InvalidHandle, err
	}
	return h, nil
}

// prepare sets up socket h before its connect.
func (s *synSender) prepare(h windows.Handle) error {
	// Not inherited by a process started meanwhile (ssh, a ProxyCommand).
	if err := windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, 0); err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if err := windows.SetsockoptLinger(h, windows.SOL_SOCKET, windows.SO_LINGER, &windows.Linger{Onoff: 1, Linger: 0}); err != nil {
		return fmt.Errorf("setting SO_LINGER: %w", err)
	}
	var done uint32
	on := uint32(1)
	if err := windows.WSAIoctl(h, wsFIONBIO, (*byte)(unsafe.Pointer(&on)), 4, nil, 0, &done, nil, 0); err != nil {
		return fmt.Errorf("making the socket non-blocking: %w", err)
	}
	rto := initialRTOValue()
	if err := windows.WSAIoctl(h, wsSIOTCPInitialRTO, &rto[0], uint32(len(rto)), nil, 0, &done, nil, 0); err != nil {
		return fmt.Errorf("turning off SYN retransmissions (SIO_TCP_INITIAL_RTO): %w; use udp knocks", err)
	}
	if s.t.Interface != "" {
		if s.ifErr != nil {
			return s.ifErr
		}
		if err := setUnicastIf(h, s.ipv6, s.t.Interface, s.ifIndex); err != nil {
			return err
		}
	}
	if s.from != nil {
		if err := windows.Bind(h, s.from); err != nil {
			return fmt.Errorf("binding to %v: %w", s.t.Source, err)
		}
	}
	return nil
}

// closeOpen closes the last burst's sockets, once they are synHold old.
func (s *synSender) closeOpen() {
	if len(s.open) > 0 {
		time.Sleep(time.Until(s.since.Add(synHold)))
	}
	for _, h := range s.open {
		windows.Closesocket(h)
	}
	s.open = s.open[:0]
}

// Close closes the last burst's sockets, once they are synHold old.
func (s *synSender) Close() error {
	s.closeOpen()
	return nil
}
