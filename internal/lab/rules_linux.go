package lab

import (
	"testing"
)

// TableCounters returns the per-rule packet counters of one table
// ("filter", "nat", "mangle", ...) of the server's firewall for family 4
// (iptables) or 6 (ip6tables), every chain.
func (l *Lab) TableCounters(tb testing.TB, family int, table string) []Counter {
	tb.Helper()
	return l.ServerCounters(tb, l.Server, family, table)
}

// ServerCounters is TableCounters for server h, one of l.Servers.
func (l *Lab) ServerCounters(tb testing.TB, h *Host, family int, table string) []Counter {
	tb.Helper()
	cmd := "iptables-save"
	if family == 6 {
		cmd = "ip6tables-save"
	}
	cs, err := parseCounters(h.Run(tb, cmd, "-c", "-t", table))
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	return cs
}
