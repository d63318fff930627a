package firewall_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/knocker"
)

// TestLabBruteForceCutOff: against the hardened rules (restore form, fail
// limit 3 per 10 minutes, window 1 s), an outsider with two addresses in
// one IPv6 /64 and two IPv4 addresses tries wrong complete patterns (Sum
// knocks at once), each followed by a SYN. The /64 is cut off at its third fail, wherever in it
// the fails came from; each IPv4 address at its own third; the kernel's
// counters show the block rules dropping what comes after, and the fail
// lists hold exactly the fails. The real client, from another IPv4
// address and another /64, still gets in with the true sequence, while
// the outsider's /64 stays shut even to the sequence. Nothing here
// depends on a clock: the verdicts are read from counters and lists.
func TestLabBruteForceCutOff(t *testing.T) {
	t.Parallel()
	q, _ := knocker.ParseSequence("1234")
	spec := firewall.Spec{Sequence: q, Window: 1, KnockPort: 22, SecurePort: 22, FailLimit: 3, FailPeriod: 600}
	script := fmt.Sprintf("${IPTABLES}-restore --noflush <<'EOF'\n%sEOF\n", spec.Restore(firewall.RestoreOptions{}))
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1, KnockPort: 22, SecurePort: 22, Listener: script})
	l.Sink(t, 22)
	var (
		six    = []netip.Addr{netip.MustParseAddr("2001:db8::100"), netip.MustParseAddr("2001:db8::101")} // the lab's /64, as ClientIP6
		four   = []netip.Addr{netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")}
		user6  = netip.MustParseAddr("2001:db8:0:1::2") // another /64
		user4  = l.ClientIP4
		server = map[bool]netip.Addr{true: l.ServerIP6, false: l.ServerIP4}
	)
	for _, a := range append(append([]netip.Addr{user6}, six...), four...) {
		mask := "/64"
		if a.Is4() {
			mask = "/24"
		}
		l.Client.Run(t, "ip", "addr", "add", a.String()+mask, "dev", "eth0", "nodad")
	}
	l.Server.Run(t, "ip", "-6", "route", "add", "2001:db8:0:1::/64", "via", l.ClientIP6.String(), "dev", "eth0")

	// try sends a wrong complete pattern from src, as fast as an attacker
	// may: the Sum knocks at once, then a SYN to the secure port, which
	// meets Sum hits in a wrong pattern, a fail. One try after another,
	// so the order of the packets, not a clock, decides what is dropped.
	try := func(src netip.Addr) {
		t.Helper()
		err := l.Client.Do(func() error {
			dst := netip.AddrPortFrom(server[src.Is6()], 22)
			knocks, err := knocker.NewSender(knocker.UDP, knocker.Target{Addr: dst, Source: src})
			if err != nil {
				return err
			}
			defer knocks.Close()
			syn, err := knocker.NewSender(knocker.TCP, knocker.Target{Addr: dst, Source: src})
			if err != nil {
				return err
			}
			defer syn.Close()
			if err := knocks.Burst(q.Sum()); err != nil {
				return err
			}
			time.Sleep(10 * time.Millisecond) // the knocks first, for certain
			return syn.Burst(1)
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The /64: its first address twice, its second once (the third fail),
	// then the second again: dropped, knocks and SYN. 192.0.2.3: three
	// fails, then a try dropped; 192.0.2.4: one fail.
	for _, src := range []netip.Addr{six[0], six[1], six[0], six[1], four[0], four[0], four[0], four[0], four[1]} {
		try(src)
	}

	fails := func(list string) map[netip.Addr]int {
		m := map[netip.Addr]int{}
		for _, e := range l.RecentList(t, list) {
			m[e.Src] = len(e.Stamps)
		}
		return m
	}
	// The /64 holds 3 fails as one entry (its address masked); each IPv4
	// address its own.
	if got, want := fails(spec.FailList(6)), map[netip.Addr]int{netip.MustParseAddr("2001:db8::"): 3}; !equal(got, want) {
		t.Errorf("%s: %v, want %v", spec.FailList(6), got, want)
	}
	if got, want := fails(spec.FailList(4)), map[netip.Addr]int{four[0]: 3, four[1]: 1}; !equal(got, want) {
		t.Errorf("%s: %v, want %v", spec.FailList(4), got, want)
	}
	// The block rules of KNOCKS_INPUT: #1 drops UDP knocks, #2 TCP to the
	// secure port: for each family one try, 10 knocks and a SYN.
	block := func(fam int) [2]uint64 {
		var b [2]uint64
		for _, c := range l.Counters(t, fam) {
			if c.Chain == spec.Listener() && c.Rule <= 2 {
				b[c.Rule-1] = c.Packets
			}
		}
		return b
	}
	if got, want := block(6), [2]uint64{10, 1}; got != want {
		t.Errorf("IPv6 block rules dropped %v (knocks, SYNs), want %v", got, want)
	}
	if got, want := block(4), [2]uint64{10, 1}; got != want {
		t.Errorf("IPv4 block rules dropped %v (knocks, SYNs), want %v", got, want)
	}
	// Nothing a blocked source sent counted: every fail removed the
	// source's knocks, and the dropped tries left none.
	for _, e := range l.Recent(t) {
		if e.Src == four[0] || e.Src == six[0] || e.Src == six[1] {
			t.Errorf("a blocked source's knocks counted: %v has %d hits", e.Src, len(e.Stamps))
		}
	}

	// The real client gets in, from its IPv4 address and from another /64;
	// an address of the outsider's /64 does not, even with the sequence.
	dial := func(src netip.Addr) error {
		return l.Client.Do(func() error {
			dst := server[src.Is6()]
			c, err := knocker.Dial(context.Background(), knocker.Config{Host: dst.String(), Port: 22, Sequence: q, Window: time.Second, Source: src, Retries: 1, LockDir: t.TempDir()},
				netip.AddrPortFrom(dst, 22).String())
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	var wg sync.WaitGroup
	results := make([]error, 3)
	for i, src := range []netip.Addr{user4, user6, l.ClientIP6} {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = dial(src) }()
	}
	wg.Wait()
	if results[0] != nil || results[1] != nil {
		t.Errorf("the real client was kept out: from %v: %v; from %v: %v", user4, results[0], user6, results[1])
	}
	if results[2] == nil {
		t.Errorf("%v, in the blocked /64, got in", l.ClientIP6)
	}
}

func equal(a, b map[netip.Addr]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
