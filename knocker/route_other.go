//go:build !linux

package knocker

import "net/netip"

// hasRoute cannot tell outside Linux.
func hasRoute(string, netip.Addr) (ok, known bool) { return false, false }
