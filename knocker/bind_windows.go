package knocker

import (
	"errors"
	"syscall"
)

// bindControl is not supported on Windows: choose a source address instead.
func bindControl(ifname string) func(network, address string, c syscall.RawConn) error {
	if ifname == "" {
		return nil
	}
	return func(string, string, syscall.RawConn) error {
		return errors.New("choosing the interface is not supported on windows; use a source address")
	}
}
