package knocker

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestLookupRoute: on the loopback, the route's source is the loopback's
// address and interface, and nothing reaches the knock port; an interface
// that cannot reach the server is refused as Knock refuses it.
func TestLookupRoute(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ctx := context.Background()
	for _, p := range []Protocol{UDP, TCP} {
		r, err := LookupRoute(ctx, Config{Host: "127.0.0.1", Port: port, Protocol: p})
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		if r.Addr != netip.MustParseAddr("127.0.0.1") || r.Source != r.Addr {
			t.Errorf("%v: route %+v, want 127.0.0.1 from 127.0.0.1", p, r)
		}
		ifi, err := net.InterfaceByName(r.Interface)
		if err != nil || ifi.Flags&net.FlagLoopback == 0 {
			t.Errorf("%v: interface %q (%v), want the loopback", p, r.Interface, err)
		}
	}
	pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := pc.ReadFrom(make([]byte, 16)); err == nil {
		t.Error("LookupRoute sent a packet")
	}

	r, err := LookupRoute(ctx, Config{Host: "192.0.2.9", Interface: loopbackName(t)})
	if !errors.Is(err, ErrInterface) || r.Addr != netip.MustParseAddr("192.0.2.9") {
		t.Errorf("by the loopback to 192.0.2.9: %+v, %v; want ErrInterface", r, err)
	}
}

// loopbackName returns the name of the loopback interface.
func loopbackName(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return ifi.Name
		}
	}
	t.Fatal("no loopback interface that is up")
	return ""
}
