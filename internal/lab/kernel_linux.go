package lab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/knockssh/knockssh/internal/firewall"
)

// RecentList is the name of the xt_recent list of the seed's listener
// applied to the INPUT chain (knocks_$TAG with TAG=INPUT).
const RecentList = "knocks_INPUT"

// A RecentEntry is one source address of an xt_recent list, as
// /proc/net/xt_recent/<list> shows it.
type RecentEntry = firewall.RecentEntry

// Recent returns the entries of the server's knock list.
func (l *Lab) Recent(tb testing.TB) []RecentEntry {
	tb.Helper()
	return l.RecentList(tb, RecentList)
}

// RecentList returns the entries of the server's recent list name (a
// hardened listener's fail list, say).
func (l *Lab) RecentList(tb testing.TB, name string) []RecentEntry {
	tb.Helper()
	data, err := l.Server.ReadFile("/proc/thread-self/net/xt_recent/" + name)
	if err != nil {
		tb.Fatalf("lab: reading the recent list: %v", err)
	}
	entries, err := ParseRecent(data)
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	return entries
}

// ParseRecent parses the text of /proc/net/xt_recent/<list>, as
// firewall.ParseRecent does.
func ParseRecent(data []byte) ([]RecentEntry, error) { return firewall.ParseRecent(data) }

// FlushRecent empties the server's knock list.
func (l *Lab) FlushRecent(tb testing.TB) {
	tb.Helper()
	err := l.Server.Do(func() error {
		return os.WriteFile("/proc/thread-self/net/xt_recent/"+RecentList, []byte("/\n"), 0)
	})
	if err != nil {
		tb.Fatalf("lab: flushing the recent list: %v", err)
	}
}

// A Counter is the packet count of one rule of the server's filter table.
type Counter struct {
	Chain   string
	Rule    int // 1-based, in the chain's order
	Packets uint64
	Spec    string // the rule as iptables-save prints it, without -A CHAIN
}

// Counters returns the per-rule packet counters of the server's filter
// table for family 4 (iptables) or 6 (ip6tables), every chain.
func (l *Lab) Counters(tb testing.TB, family int) []Counter {
	tb.Helper()
	return l.TableCounters(tb, family, "filter")
}

func parseCounters(save string) ([]Counter, error) {
	var cs []Counter
	rule := map[string]int{}
	for _, line := range strings.Split(save, "\n") {
		// [12:480] -A INPUT -p tcp -m tcp --dport 22 -j CHECKKNOCKS_INPUT
		if !strings.HasPrefix(line, "[") {
			continue
		}
		cnt, rest, ok := strings.Cut(line, "] -A ")
		if !ok {
			continue
		}
		pk, _, _ := strings.Cut(strings.TrimPrefix(cnt, "["), ":")
		n, err := strconv.ParseUint(pk, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("iptables-save counter in %q: %w", line, err)
		}
		chain, spec, _ := strings.Cut(rest, " ")
		rule[chain]++
		cs = append(cs, Counter{Chain: chain, Rule: rule[chain], Packets: n, Spec: spec})
	}
	return cs, nil
}

// ZeroCounters zeroes the servers' filter counters, both families.
func (l *Lab) ZeroCounters(tb testing.TB) {
	tb.Helper()
	for _, h := range l.Servers {
		h.Run(tb, "iptables", "-Z")
		h.Run(tb, "ip6tables", "-Z")
	}
}
