// Package resolv makes name resolution work where the system keeps no
// /etc/resolv.conf: a static Go binary on Android (Termux) would otherwise
// ask 127.0.0.1:53, where nothing answers, and every %h would fail to
// resolve.
package resolv

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// termuxPrefix is Termux's $PREFIX when the environment does not say.
const termuxPrefix = "/data/data/com.termux/files/usr"

// Nameservers returns the addresses of the nameserver lines of a
// resolv.conf, as host:53, in order; malformed lines are skipped, as the
// resolver skips them.
func Nameservers(data []byte) []string {
	var ns []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		host, _, _ := strings.Cut(f[1], "%") // a zone names no server
		a, err := netip.ParseAddr(host)
		if err != nil {
			continue
		}
		if z := f[1][len(host):]; z != "" {
			a = a.WithZone(z[1:])
		}
		ns = append(ns, netip.AddrPortFrom(a, 53).String())
	}
	return ns
}

// resolver returns a resolver that asks the nameservers of the
// resolv.conf at path instead of those of /etc/resolv.conf, or nil when
// path names none; dial connects to them.
func resolver(path string, dial func(ctx context.Context, network, address string) (net.Conn, error)) *net.Resolver {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	ns := Nameservers(data)
	if len(ns) == 0 {
		return nil
	}
	var next atomic.Uint32 // the A and AAAA lookups dial at once
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			// The Go resolver asks its defaults in turn; each dial takes
			// the next of ours, so a dead server is passed over too.
			addr := ns[int(next.Add(1)-1)%len(ns)]
			return dial(ctx, network, addr)
		},
	}
}

// termuxConf is the resolv.conf Termux keeps under $PREFIX.
func termuxConf() string {
	prefix := os.Getenv("PREFIX")
	if prefix == "" {
		prefix = termuxPrefix
	}
	return filepath.Join(prefix, "etc", "resolv.conf")
}
