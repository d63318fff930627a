package knocker

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// bindDevice makes the socket send by device ifname only.
func bindDevice(fd, family int, ifname string) error {
	if ifname == "" {
		return nil
	}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
		return fmt.Errorf("binding to interface %s: %w", ifname, err)
	}
	return nil
}
