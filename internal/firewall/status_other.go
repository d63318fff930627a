//go:build !linux

package firewall

import "errors"

// ReadKernelClock fails: jiffies are a Linux kernel's.
func ReadKernelClock() (KernelClock, error) {
	return KernelClock{}, errors.New("the server side runs on Linux only")
}
