//go:build unix

package knocker

import (
	"net"
	"syscall"
)

// bindControl returns a net.Dialer/ListenConfig Control function that binds
// the socket to device ifname, or nil when ifname is empty.
func bindControl(ifname string) func(network, address string, c syscall.RawConn) error {
	if ifname == "" {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		family := syscall.AF_INET
		if len(network) > 0 && network[len(network)-1] == '6' {
			family = syscall.AF_INET6
		}
		var err error
		if cerr := c.Control(func(fd uintptr) { err = bindDevice(int(fd), family, ifname) }); cerr != nil {
			return cerr
		}
		return err
	}
}

func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
