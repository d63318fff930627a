package knocker

import (
	"fmt"
	"net"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"
)

// bindControl returns a net.Dialer/ListenConfig Control function that makes
// the socket send by interface ifname (IP_UNICAST_IF, IPV6_UNICAST_IF), or
// nil when ifname is empty.
func bindControl(ifname string) func(network, address string, c syscall.RawConn) error {
	if ifname == "" {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		ipv6 := strings.HasSuffix(network, "6")
		var err error
		if cerr := c.Control(func(fd uintptr) { err = bindInterface(windows.Handle(fd), ipv6, ifname) }); cerr != nil {
			return cerr
		}
		return err
	}
}

// bindInterface makes socket s send by interface ifname, named as
// net.InterfaceByName (and knockssh --interfaces) names it: Windows'
// friendly name, such as "Ethernet" or "Wi-Fi". Unlike SO_BINDTODEVICE it
// does not restrict what s receives, and needs no privileges. It must come
// before connect: Windows picks a connected socket's route then.
func bindInterface(s windows.Handle, ipv6 bool, ifname string) error {
	if ifname == "" {
		return nil
	}
	index, err := interfaceIndex(ifname)
	if err != nil {
		return err
	}
	return setUnicastIf(s, ipv6, ifname, index)
}

// interfaceIndex looks ifname up (GetAdaptersAddresses: slow, so the knock
// sender does it once).
func interfaceIndex(ifname string) (uint32, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return 0, fmt.Errorf("binding to interface %s: %w", ifname, err)
	}
	return uint32(ifi.Index), nil
}

// setUnicastIf sets IP_UNICAST_IF or IPV6_UNICAST_IF on s to the interface
// ifname of that index.
func setUnicastIf(s windows.Handle, ipv6 bool, ifname string, index uint32) error {
	level, opt := windows.IPPROTO_IP, wsIPUnicastIf
	if ipv6 {
		level, opt = windows.IPPROTO_IPV6, wsIPv6UnicastIf
	}
	v := unicastIfValue(index, ipv6)
	if err := windows.Setsockopt(s, int32(level), int32(opt), &v[0], int32(len(v))); err != nil {
		return fmt.Errorf("binding to interface %s: %w", ifname, err)
	}
	return nil
}
