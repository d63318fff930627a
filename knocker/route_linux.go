package knocker

import (
	"net/netip"
	"os"
)

// hasRoute reports whether the main routing table sends dst by dev; known
// is false when the table cannot be read. (A socket bound to a device
// connects to anything: without a route the kernel takes the address for
// one on the link.)
func hasRoute(dev string, dst netip.Addr) (ok, known bool) {
	name := "/proc/net/route"
	if dst.Is6() {
		name = "/proc/net/ipv6_route"
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return false, false
	}
	return routesVia(data, dev, dst), true
}
