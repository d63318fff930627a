package knocker

import (
	"net/netip"
	"testing"
)

func TestRoutesVia(t *testing.T) {
	const v4 = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
wg0	0064A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
`
	const v6 = `fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
`
	for _, tc := range []struct {
		proc, dev, dst string
		want           bool
	}{
		{v4, "eth0", "198.51.100.7", true}, // the default route
		{v4, "eth0", "192.0.2.1", true},
		{v4, "wg0", "192.168.100.9", true},
		{v4, "wg0", "192.0.2.1", false},
		{v4, "dummy0", "192.0.2.1", false},
		{v6, "eth1", "2001:db8::1", true},
		{v6, "eth0", "2001:db8::1", false},
		{v6, "eth0", "fe80::1", true},
		{v4, "eth0", "2001:db8::1", false},
		{"garbage\n\n", "eth0", "192.0.2.1", false},
	} {
		if got := routesVia([]byte(tc.proc), tc.dev, netip.MustParseAddr(tc.dst)); got != tc.want {
			t.Errorf("routesVia(%s, %s) = %v, want %v", tc.dev, tc.dst, got, tc.want)
		}
	}
}
