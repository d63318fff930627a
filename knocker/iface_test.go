package knocker

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

// TestCheckInterface: the loopback never knocks on an address elsewhere,
// and an interface that does not exist is named in the error.
func TestCheckInterface(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var lo string
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			lo = ifi.Name
		}
	}
	if lo == "" {
		t.Fatal("no loopback interface that is up")
	}
	if err := checkInterface(lo, netip.MustParseAddr("192.0.2.1")); err == nil || !strings.Contains(err.Error(), "is the loopback") {
		t.Errorf("%s for 192.0.2.1: %v, want refused as the loopback", lo, err)
	}
	if err := checkInterface(lo, netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("%s for 127.0.0.1: %v", lo, err)
	}
	if err := checkInterface("knockssh-none0", netip.MustParseAddr("192.0.2.1")); err == nil || !strings.Contains(err.Error(), "knockssh-none0") {
		t.Errorf("a missing interface: %v", err)
	}
	// A zone names the interface: its own is fine, another is refused.
	if err := checkInterface(lo, netip.MustParseAddr("::1").WithZone(lo)); err != nil {
		t.Errorf("%s for ::1%%%s: %v", lo, lo, err)
	}
	if err := checkInterface(lo, netip.MustParseAddr("fe80::1%knockssh-other0")); err == nil || !strings.Contains(err.Error(), "names interface knockssh-other0") {
		t.Errorf("a zone naming another interface: %v", err)
	}
}
