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
// one IPv6 /64 and two IPv4 addresses tries wrong complete patterns, each
// followed by a SYN. The /64 is cut off at its third fail, wherever in it
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
		wrong  = mustSeq(t, "1243")
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

	// try sends pattern from src, starting at start, and a SYN when the
	// window opens.
	try := func(src netip.Addr, pattern knocker.Sequence, start time.Time) error {
		return l.Client.Do(func() error {
			dst := server[src.Is6()]
			knocks, err := knocker.NewSender(knocker.UDP, knocker.Target{Addr: netip.AddrPortFrom(dst, 22), Source: src})
			if err != nil {
				return err
			}
			defer knocks.Close()
			syn, err := knocker.NewSender(knocker.TCP, knocker.Target{Addr: netip.AddrPortFrom(dst, 22), Source: src})
			if err != nil {
				return err
			}
			defer syn.Close()
			if err := knocker.SystemClock.SleepUntil(context.Background(), start); err != nil {
				return err
			}
			e := &knocker.Engine{Sequence: pattern, Window: time.Second, Margin: 50 * time.Millisecond, Knocks: knocks}
			if _, err := e.Knock(context.Background()); err != nil {
				return err
			}
			return syn.Burst(1)
		})
	}
	// Rounds 3.5 s apart: the IPv6 addresses knock at once in each round;
	// 192.0.2.3 tries in four rounds, 192.0.2.4 in the first only.
	start := time.Now().Add(200 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	run := func(src netip.Addr, rounds ...int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range rounds {
				if err := try(src, wrong, start.Add(time.Duration(r)*3500*time.Millisecond)); err != nil {
					errs <- err
				}
			}
		}()
	}
	run(six[0], 0, 1, 2)
	run(six[1], 0, 1)
	run(four[0], 0, 1, 2, 3)
	run(four[1], 0)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)

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
	// secure port. IPv6: round 2's second SYN (the /64 was at its limit)
	// and all of round 3 (10 knocks, 1 SYN). IPv4: 192.0.2.3's fourth
	// round.
	block := func(fam int) [2]uint64 {
		var b [2]uint64
		for _, c := range l.Counters(t, fam) {
			if c.Chain == spec.Listener() && c.Rule <= 2 {
				b[c.Rule-1] = c.Packets
			}
		}
		return b
	}
	if got, want := block(6), [2]uint64{10, 2}; got != want {
		t.Errorf("IPv6 block rules dropped %v (knocks, SYNs), want %v", got, want)
	}
	if got, want := block(4), [2]uint64{10, 1}; got != want {
		t.Errorf("IPv4 block rules dropped %v (knocks, SYNs), want %v", got, want)
	}
	// Nothing a blocked source sent counted: 192.0.2.3's list went with
	// its third fail; of the /64, the address whose round-2 SYN was
	// dropped keeps that round's 10 knocks, and round 3 added none.
	for _, e := range l.Recent(t) {
		if e.Src == four[0] || (e.Src == six[0] || e.Src == six[1]) && len(e.Stamps) > 10 {
			t.Errorf("a blocked source's knocks counted: %v has %d hits", e.Src, len(e.Stamps))
		}
	}

	// The real client gets in, from its IPv4 address and from another /64;
	// an address of the outsider's /64 does not, even with the sequence.
	dial := func(src netip.Addr) error {
		return l.Client.Do(func() error {
			dst := server[src.Is6()]
			c, err := knocker.Dial(context.Background(), knocker.Config{Host: dst.String(), Port: 22, Sequence: q, Window: time.Second, Source: src, LockDir: t.TempDir()},
				netip.AddrPortFrom(dst, 22).String())
			if err == nil {
				c.Close()
			}
			return err
		})
	}
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

func mustSeq(t *testing.T, s string) knocker.Sequence {
	q, err := knocker.ParseSequence(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
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
