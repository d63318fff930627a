package knocker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrInterface is wrapped by the error Knock and Dial return when
// Config.Interface cannot carry knocks to the server.
var ErrInterface = errors.New("unusable interface")

// checkInterface refuses to knock on dst by the network interface name
// when the knocks could not get there: no such interface, one that is
// down, the loopback for an address elsewhere, one without an address of
// dst's family, or a link-local dst whose zone names another interface.
// (The kernel sends by the loopback whatever it is given, a socket bound
// to a device takes any address for one on its link, and a UDP knock
// fails silently: the knock would seem to work.) Routes are not looked
// at: policy routing (a VPN's own table) would make a check of the main
// table refuse good interfaces.
func checkInterface(name string, dst netip.Addr) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInterface, name, err)
	}
	if z := dst.Zone(); z != "" && z != name && z != fmt.Sprint(ifi.Index) {
		return fmt.Errorf("%w: %s, but the address %v names interface %s", ErrInterface, name, dst, z)
	}
	dst = dst.WithZone("")
	switch {
	case ifi.Flags&net.FlagUp == 0:
		return fmt.Errorf("%w: %s is down: knocks by it reach nobody", ErrInterface, name)
	case ifi.Flags&net.FlagLoopback != 0:
		if !dst.IsLoopback() {
			return fmt.Errorf("%w: %s is the loopback: knocks by it cannot reach %v", ErrInterface, name, dst)
		}
		return nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInterface, name, err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		p, err := netip.ParsePrefix(n.String())
		if err != nil {
			continue
		}
		if p.Addr().Is4() == dst.Is4() && (!dst.IsLinkLocalUnicast() || p.Addr().IsLinkLocalUnicast()) {
			return nil
		}
	}
	family := "IPv4"
	if dst.Is6() {
		family = "IPv6"
	}
	return fmt.Errorf("%w: %s has no %s address: knocks by it cannot reach %v", ErrInterface, name, family, dst)
}
