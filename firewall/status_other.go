//go:build !linux

package firewall

import "errors"

// RecentPath returns the file of the recent list named list; xt_recent
// lists exist on Linux only.
func RecentPath(list string) string { return "/proc/net/xt_recent/" + list }

// ReadKernelClock fails: jiffies are a Linux kernel's.
func ReadKernelClock() (KernelClock, error) {
	return KernelClock{}, errors.New("the server side runs on Linux only")
}
