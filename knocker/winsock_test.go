package knocker

import (
	"encoding/binary"
	"errors"
	"strings"
	"syscall"
	"testing"
)

// TestUnicastIfValue pins the byte order of IP_UNICAST_IF (network order)
// and IPV6_UNICAST_IF (host order) as Microsoft documents them.
func TestUnicastIfValue(t *testing.T) {
	native := func(i uint32) [4]byte {
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], i)
		return b
	}
	for _, c := range []struct {
		index uint32
		ipv6  bool
		want  [4]byte
	}{
		{7, false, [4]byte{0, 0, 0, 7}},
		{0x01020304, false, [4]byte{1, 2, 3, 4}},
		{300, false, [4]byte{0, 0, 1, 44}},
		{7, true, native(7)},
		{0x01020304, true, native(0x01020304)},
	} {
		if got := unicastIfValue(c.index, c.ipv6); got != c.want {
			t.Errorf("unicastIfValue(%d, ipv6 %v) = %v, want %v", c.index, c.ipv6, got, c.want)
		}
	}
	// Windows runs little-endian only: the IPv6 value of 7 is 07 00 00 00.
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 && unicastIfValue(7, true) != [4]byte{7, 0, 0, 0} {
		t.Errorf("IPV6_UNICAST_IF value of 7 = %v on a little-endian machine", unicastIfValue(7, true))
	}
}

func TestInitialRTOValue(t *testing.T) {
	b := initialRTOValue()
	if rtt := binary.NativeEndian.Uint16(b[:2]); rtt != 0xffff {
		t.Errorf("Rtt = %#x, want TCP_INITIAL_RTO_UNSPECIFIED_RTT 0xffff", rtt)
	}
	if b[2] != 0xfe || b[3] != 0 {
		t.Errorf("MaxSynRetransmissions, pad = %#x, %#x; want 0xfe (TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS), 0", b[2], b[3])
	}
	if wsSIOTCPInitialRTO != 0x98000011 || wsFIONBIO != 0x8004667e {
		t.Errorf("SIO_TCP_INITIAL_RTO = %#x, FIONBIO = %#x", wsSIOTCPInitialRTO, wsFIONBIO)
	}
}

func TestSYNSupported(t *testing.T) {
	for _, c := range []struct {
		major, build uint32
		ok           bool
	}{
		{10, 16299, true},  // 1709
		{10, 26100, true},  // 11 24H2, Server 2025
		{10, 17763, true},  // Server 2019
		{10, 16298, false}, //
		{10, 14393, false}, // Server 2016, 1607
		{6, 9600, false},   // 8.1
		{11, 0, true},
	} {
		err := synSupported(c.major, c.build)
		if (err == nil) != c.ok {
			t.Errorf("synSupported(%d, %d) = %v, want ok %v", c.major, c.build, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "use udp knocks") {
			t.Errorf("synSupported(%d, %d) = %v: no way out named", c.major, c.build, err)
		}
	}
}

func TestConnectResult(t *testing.T) {
	other := errors.New("something else")
	for _, c := range []struct {
		in   error
		ok   bool
		want string
	}{
		{nil, true, ""},
		{wsaEWOULDBLOCK, true, ""},
		{&wrapped{wsaEWOULDBLOCK}, true, ""},
		{wsaEACCES, false, "firewall"},
		{wsaEADDRNOTAVAIL, false, "source address"},
		{wsaENOBUFS, false, "no local port"},
		{wsaEADDRINUSE, false, "no local port"},
		{wsaENETUNREACH, false, "no route to the network"},
		{wsaEHOSTUNREACH, false, "no route to the host"},
		{syscall.Errno(10061), false, "connect: "}, // WSAECONNREFUSED, unexpected here
		{other, false, "something else"},
	} {
		err := connectResult(c.in)
		if (err == nil) != c.ok {
			t.Errorf("connectResult(%v) = %v, want ok %v", c.in, err, c.ok)
			continue
		}
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.in) {
			t.Errorf("connectResult(%v) = %q, want it to say %q and wrap the cause", c.in, err, c.want)
		}
	}
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "wsaioctl: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }
