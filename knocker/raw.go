package knocker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ErrRawPermission is wrapped by the error NewSender returns for Raw knocks
// when the process may not open a raw socket.
var ErrRawPermission = errors.New("raw knocks need CAP_NET_RAW")

// rawSender crafts each knock as a TCP SYN with gopacket and sends it on a
// raw IP socket; the kernel adds the IP header. Source port and sequence
// number are random for every knock, as a real connection's would be.
type rawSender struct {
	conn net.PacketConn
	to   net.Addr
	src  netip.Addr
	dst  netip.AddrPort
	buf  gopacket.SerializeBuffer
}

func newRawSender(t Target) (Sender, error) {
	if runtime.GOOS == "windows" {
		return nil, errors.New("raw knocks are not possible on windows, which forbids raw TCP: knock with tcp or udp")
	}
	dst := netip.AddrPortFrom(t.Addr.Addr().Unmap(), t.Addr.Port())
	src := t.Source
	if !src.IsValid() {
		var err error
		if src, err = localAddrFor(dst, netip.Addr{}, t.Interface); err != nil {
			return nil, err
		}
	}
	network := "ip4:tcp"
	if dst.Addr().Is6() {
		network = "ip6:tcp"
	}
	lc := net.ListenConfig{Control: bindControl(t.Interface)}
	bind := ""
	if t.Source.IsValid() {
		bind = t.Source.String()
	}
	conn, err := lc.ListenPacket(context.Background(), network, bind)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w: %w", ErrRawPermission, err)
		}
		return nil, fmt.Errorf("opening raw socket: %w", err)
	}
	return &rawSender{
		conn: conn,
		to:   &net.IPAddr{IP: dst.Addr().AsSlice(), Zone: dst.Addr().Zone()},
		src:  src.Unmap(),
		dst:  dst,
		buf:  gopacket.NewSerializeBuffer(),
	}, nil
}

// localAddrFor returns the source address the kernel would use to reach dst
// from src (any, when not valid) by device ifname (any, when ""), found by
// connecting a UDP socket, which sends nothing.
func localAddrFor(dst netip.AddrPort, src netip.Addr, ifname string) (netip.Addr, error) {
	d := net.Dialer{Control: bindControl(ifname)}
	if src.IsValid() {
		d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	}
	c, err := d.Dial("udp", dst.String())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("finding the source address for %v: %w", dst.Addr(), err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// serializeSYN writes one TCP SYN segment from src:sport to dst into buf,
// with the checksum computed over the IPv4 or IPv6 pseudo-header.
func serializeSYN(buf gopacket.SerializeBuffer, src netip.Addr, sport uint16, dst netip.AddrPort, seq uint32) error {
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(sport),
		DstPort: layers.TCPPort(dst.Port()),
		Seq:     seq,
		SYN:     true,
		Window:  64240,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}},
	}
	var nl gopacket.NetworkLayer
	if dst.Addr().Is4() {
		nl = &layers.IPv4{SrcIP: src.AsSlice(), DstIP: dst.Addr().AsSlice(), Protocol: layers.IPProtocolTCP}
	} else {
		nl = &layers.IPv6{SrcIP: src.AsSlice(), DstIP: dst.Addr().AsSlice(), NextHeader: layers.IPProtocolTCP}
	}
	if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
		return err
	}
	return gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, tcp)
}

func (s *rawSender) Burst(n int) error {
	var r [6]byte
	for i := 0; i < n; i++ {
		if _, err := rand.Read(r[:]); err != nil {
			return err
		}
		sport := 32768 + binary.BigEndian.Uint16(r[:2])%28232
		if err := serializeSYN(s.buf, s.src, sport, s.dst, binary.BigEndian.Uint32(r[2:])); err != nil {
			return fmt.Errorf("crafting raw knock: %w", err)
		}
		if _, err := s.conn.WriteTo(s.buf.Bytes(), s.to); err != nil {
			return fmt.Errorf("sending raw knock: %w", err)
		}
	}
	return nil
}

func (s *rawSender) Close() error { return s.conn.Close() }
