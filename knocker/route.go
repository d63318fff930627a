package knocker

import (
	"context"
	"net"
	"net/netip"
)

// A Route is the way knocks to a server would take, as the routing table
// has it now.
type Route struct {
	// Addr is the knock address: Config.Host, resolved once as Knock and
	// Dial resolve it.
	Addr netip.Addr
	// Source is the local address knocks would leave from: Config.Source,
	// or else the kernel's choice.
	Source netip.Addr
	// Interface is Config.Interface, or else the interface that holds
	// Source; "" when none does.
	Interface string
}

// LookupRoute finds the way c's knocks would take, sending none: it
// resolves c.Host as Knock does (a name is looked up in the DNS), checks
// c.Interface and opens the knock socket of c.Protocol as Knock does, and
// asks the kernel for the source address by connecting a UDP socket, which
// sends nothing. Its errors are those a knock would meet before its first
// packet; the Route holds what was found until then.
func LookupRoute(ctx context.Context, c Config) (Route, error) {
	c = c.WithDefaults()
	ka, err := resolve(ctx, c.Network, c.Host)
	if err != nil {
		return Route{}, err
	}
	r := Route{Addr: ka, Interface: c.Interface}
	_, cleanup, err := c.engine(ka, netip.AddrPort{})
	if err != nil {
		return r, err
	}
	cleanup()
	if r.Source, err = localAddrFor(netip.AddrPortFrom(ka, uint16(c.Port)), c.Source, c.Interface); err != nil {
		return r, err
	}
	if r.Interface == "" {
		r.Interface = interfaceWith(r.Source)
	}
	return r, nil
}

// interfaceWith returns the name of the interface that holds address a, ""
// when none does.
func interfaceWith(a netip.Addr) string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	a = a.WithZone("").Unmap()
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, x := range addrs {
			n, ok := x.(*net.IPNet)
			if !ok {
				continue
			}
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
				return ifi.Name
			}
		}
	}
	return ""
}

// CheckLockDir returns the error a knock would meet with dir as its lock
// directory, which exists: on Unix, one for a directory that is a symbolic
// link, belongs to another user or that others may write. On Windows every
// directory passes: its ACLs are the profile's.
func CheckLockDir(dir string) error { return checkLockDir(dir) }
