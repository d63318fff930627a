//go:build android && !cgo

package resolv

import (
	"net"
	"os"
)

// Setup makes net.DefaultResolver ask the nameservers of Termux's
// resolv.conf when the system has no /etc/resolv.conf (Android keeps its
// DNS settings elsewhere, where a static binary cannot ask).
func Setup() {
	if _, err := os.Stat("/etc/resolv.conf"); err == nil {
		return
	}
	var d net.Dialer
	if r := resolver(termuxConf(), d.DialContext); r != nil {
		net.DefaultResolver = r
	}
}
