package knocker

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// bindDevice makes the socket send by device ifname only.
func bindDevice(fd, family int, ifname string) error {
	if ifname == "" {
		return nil
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("binding to interface %s: %w", ifname, err)
	}
	if family == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_BOUND_IF, ifi.Index)
	} else {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BOUND_IF, ifi.Index)
	}
	if err != nil {
		return fmt.Errorf("binding to interface %s: %w", ifname, err)
	}
	return nil
}
