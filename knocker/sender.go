package knocker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// A Target is where knocks go and where they come from.
type Target struct {
	// Addr is the knock port's address.
	Addr netip.AddrPort
	// Source, when valid, is the local address knocks are sent from. The
	// connection must come from the same address, since the server counts
	// knocks per source address.
	Source netip.Addr
	// Interface, when set, is the network device knocks leave by
	// (SO_BINDTODEVICE on Linux, IP_BOUND_IF on macOS, IP_UNICAST_IF on
	// Windows).
	Interface string
}

// NewSender returns a Sender of knocks of protocol p to t.
func NewSender(p Protocol, t Target) (Sender, error) {
	if !t.Addr.IsValid() {
		return nil, errors.New("no knock address")
	}
	if t.Source.IsValid() && t.Source.Is4() != t.Addr.Addr().Is4() {
		return nil, fmt.Errorf("source address %v and knock address %v are of different families", t.Source, t.Addr.Addr())
	}
	switch p {
	case UDP:
		return newUDPSender(t)
	case TCP:
		return newSYNSender(t)
	case Raw:
		return newRawSender(t)
	}
	return nil, fmt.Errorf("unknown knock protocol %v", p)
}

// udpSender sends each knock as one small datagram from one unconnected
// socket, so an ICMP error from the server never fails a later write.
type udpSender struct {
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newUDPSender(t Target) (Sender, error) {
	network := "udp4"
	if t.Addr.Addr().Is6() && !t.Addr.Addr().Is4In6() {
		network = "udp6"
	}
	var laddr *net.UDPAddr
	if t.Source.IsValid() {
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(t.Source, 0))
	}
	lc := net.ListenConfig{Control: bindControl(t.Interface)}
	addr := ""
	if laddr != nil {
		addr = laddr.String()
	}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, fmt.Errorf("opening udp socket: %w", err)
	}
	return &udpSender{conn: pc.(*net.UDPConn), to: net.UDPAddrFromAddrPort(t.Addr)}, nil
}

var knockPayload = []byte{0}

func (s *udpSender) Burst(n int) error {
	for i := 0; i < n; i++ {
		if _, err := s.conn.WriteToUDP(knockPayload, s.to); err != nil {
			return fmt.Errorf("sending udp knock: %w", err)
		}
	}
	return nil
}

func (s *udpSender) Close() error { return s.conn.Close() }
