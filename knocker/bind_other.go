//go:build unix && !linux && !darwin

package knocker

import "errors"

// bindDevice is not supported on this system.
func bindDevice(fd, family int, ifname string) error {
	if ifname == "" {
		return nil
	}
	return errors.New("choosing the interface is not supported on this system; use a source address")
}
