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
// down, the loopback for an address elsewhere, or no route to dst by it.
// (The kernel sends by the loopback whatever it is given, and a UDP knock
// fails silently, so the knock would seem to work.)
func checkInterface(name string, dst netip.Addr) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInterface, name, err)
	}
	switch {
	case ifi.Flags&net.FlagUp == 0:
		return fmt.Errorf("%w: %s is down: knocks by it reach nobody", ErrInterface, name)
	case ifi.Flags&net.FlagLoopback != 0 && !dst.IsLoopback():
		return fmt.Errorf("%w: %s is the loopback: knocks by it cannot reach %v", ErrInterface, name, dst)
	}
	if ifi.Flags&net.FlagLoopback != 0 || onLink(ifi, dst) {
		return nil
	}
	if ok, known := hasRoute(name, dst); known && !ok {
		return fmt.Errorf("%w: %s has no route to %v", ErrInterface, name, dst)
	}
	return nil
}

// onLink reports whether dst is in one of the prefixes of ifi's addresses.
func onLink(ifi *net.Interface, dst netip.Addr) bool {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(n.String()); err == nil && p.Masked().Contains(dst) {
				return true
			}
		}
	}
	return false
}
