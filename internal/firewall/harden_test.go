package firewall

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/knockssh/knockssh/knocker"
)

// The hardened rules: only the true sequence opens, and the fail limit.

// opens knocks cand against a fresh model of s from src (UDP knocks,
// bursts a window apart) and reports whether a connection attempt at any
// of three instants of the window (the client's 50 ms margin, half a
// window, a jiffy before its end) is accepted, each tried on its own copy
// of the model.
func opens(t testing.TB, s Spec, cand knocker.Sequence) bool {
	w := time.Duration(s.Window) * time.Second
	return opensAt(model(t, s), s, cand, 50*time.Millisecond, w/2, w-2*jiffy)
}

// opensAt is opens on a copy of fresh, at the given offsets after the
// last burst.
func opensAt(fresh *Model, s Spec, cand knocker.Sequence, after ...time.Duration) bool {
	m := fresh.Clone()
	w := time.Duration(s.Window) * time.Second
	feed(m, KnockTimeline(cand, w, 0, UDP, s.KnockPort, client))
	last := time.Duration(len(cand)-1) * w
	for i, d := range after {
		c := m
		if i < len(after)-1 {
			c = m.Clone()
		}
		if c.Open(client, last+d) {
			return true
		}
	}
	return false
}

// allSequences returns every sequence of n bursts, in order.
func allSequences(n int) []knocker.Sequence {
	var out []knocker.Sequence
	var rec func(prefix knocker.Sequence)
	rec = func(prefix knocker.Sequence) {
		if len(prefix) == n {
			out = append(out, slices.Clone(prefix))
			return
		}
		for d := 1; d <= 9; d++ {
			rec(append(prefix, d))
		}
	}
	rec(nil)
	return out
}

// neighbours returns the sequences that differ from q in one burst by ±1.
func neighbours(q knocker.Sequence) []knocker.Sequence {
	var out []knocker.Sequence
	for i := range q {
		for _, d := range []int{-1, 1} {
			if v := q[i] + d; v >= 1 && v <= 9 {
				c := slices.Clone(q)
				c[i] = v
				out = append(out, c)
			}
		}
	}
	return out
}

// alias returns the one other candidate that opens secret's hardened
// rules, nil when there is none: a first burst of d1+Sum+2 knocks, which
// the input chain's Sum+1 rule resets after Sum+1 of them, leaving d1. It
// exists only while d1+Sum+2 <= 9, for a few sequences of up to 6 bursts
// (11 of the 6561 of four: 1111, 2111, 1112, ...), never for 7 or more.
func alias(secret knocker.Sequence) knocker.Sequence {
	if k := secret[0] + secret.Sum() + 2; k <= 9 {
		a := slices.Clone(secret)
		a[0] = k
		return a
	}
	return nil
}

// TestOnlyTrueSequenceOpens4 proves it for four bursts in the model: for a
// sample of 41 secrets (every 164th), all 9^4 candidates, and for all 9^4
// secrets, the candidates one knock off in one burst; only the secret
// opens (and its alias, if it has one). The seed's rules, for contrast,
// open with d1+1 knocks in the first burst.
func TestOnlyTrueSequenceOpens4(t *testing.T) {
	t.Parallel()
	all := allSequences(4)
	aliases := 0
	for _, ports := range [][2]int{{22, 22}, {443, 22}} {
		for i := 0; i < len(all); i += len(all) / 40 {
			secret := all[i]
			s := Spec{Sequence: secret, Window: 1, KnockPort: ports[0], SecurePort: ports[1]}
			fresh := model(t, s)
			for _, cand := range all {
				want := slices.Equal(cand, secret) || slices.Equal(cand, alias(secret))
				if got := opensAt(fresh, s, cand, 50*time.Millisecond); got != want {
					t.Fatalf("ports %v: secret %v, candidate %v: opens=%v", ports, secret.Digits(), cand.Digits(), got)
				}
			}
		}
	}
	for _, secret := range all {
		if alias(secret) != nil {
			aliases++
		}
	}
	if aliases != 11 {
		t.Errorf("%d four-burst secrets with an alias, want 11", aliases)
	}
	seedOpeners := 0
	for _, secret := range all {
		s := Spec{Sequence: secret, Window: 1, KnockPort: 22, SecurePort: 22}
		for _, cand := range neighbours(secret) {
			if opens(t, s, cand) {
				t.Fatalf("secret %v opens for %v", secret.Digits(), cand.Digits())
			}
		}
		s.Seed = true
		c := slices.Clone(secret)
		if c[0]++; c[0] <= 9 && opens(t, s, c) {
			seedOpeners++
		}
	}
	if want := 8 * 9 * 9 * 9; seedOpeners != want {
		t.Errorf("the seed's rules open with d1+1 for %d secrets, want %d (every one with d1 < 9)", seedOpeners, want)
	}
}

// TestOnlyTrueSequenceOpensLonger samples 5 to 8 bursts: per length 150
// random secrets, each against its one-off neighbours and 150 random
// candidates.
func TestOnlyTrueSequenceOpensLonger(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 8))
	random := func(n int) knocker.Sequence {
		q := make(knocker.Sequence, n)
		for i := range q {
			q[i] = 1 + r.IntN(9)
		}
		return q
	}
	for n := 5; n <= 8; n++ {
		for range 150 {
			secret := random(n)
			s := Spec{Sequence: secret, Window: 1, KnockPort: 22, SecurePort: 22}
			if !opens(t, s, secret) {
				t.Fatalf("secret %v does not open", secret.Digits())
			}
			cands := neighbours(secret)
			for range 150 {
				cands = append(cands, random(n))
			}
			for _, cand := range cands {
				if got, want := opens(t, s, cand), slices.Equal(cand, secret); got != want {
					t.Fatalf("secret %v, candidate %v: opens=%v", secret.Digits(), cand.Digits(), got)
				}
			}
		}
	}
}

// tryPattern sends one complete wrong pattern from src and a SYN, as a
// brute-forcing attacker does, starting at start; it reports whether the
// SYN was accepted.
func tryPattern(m *Model, s Spec, cand knocker.Sequence, src netip.Addr, start time.Duration) bool {
	w := time.Duration(s.Window) * time.Second
	feed(m, KnockTimeline(cand, w, start, UDP, s.KnockPort, src))
	return m.Open(src, start+time.Duration(len(cand)-1)*w+50*time.Millisecond)
}

// TestFailLimit: every wrong complete pattern is one fail; at the limit
// the source (an IPv4 address, an IPv6 /64) is dropped before anything
// counts, until its fails age out; other sources, and what cannot open
// anything (too few knocks, the client's probe-less clear), count no
// fail.
func TestFailLimit(t *testing.T) {
	s := Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 22, SecurePort: 22, FailPeriod: 600}
	wrong := seq(t, "1243")
	m := model(t, s)
	at := time.Duration(0)
	for i := 1; i <= 5; i++ {
		if tryPattern(m, s, wrong, client, at) || m.Fails(client) != i {
			t.Fatalf("pattern %d: %d fails, want %d", i, m.Fails(client), i)
		}
		at += 4 * time.Second
	}
	// Blocked: even the true sequence does not open, nor count.
	if tryPattern(m, s, s.Sequence, client, at) || m.Stamps(client) != nil {
		t.Fatalf("a blocked source opened, or its knocks counted (%d stamps); trace %v", len(m.Stamps(client)), m.Trace())
	}
	if d, ok := m.Trace().Decider(); !ok || d.Chain != "INPUT" || d.Target != "DROP" || d.Rule != labRules+2 {
		t.Errorf("blocked SYN decided by %v, want the listener's block rule for the secure port", d)
	}
	// Another address gets in.
	at += 4 * time.Second
	other := netip.MustParseAddr("192.0.2.3")
	if !tryPattern(m, s, s.Sequence, other, at) {
		t.Errorf("another source was kept out: %v", m.Trace())
	}
	// After the period the source is free again.
	at += 600 * time.Second
	if !tryPattern(m, s, s.Sequence, client, at) {
		t.Errorf("the source is still blocked after the period: %v", m.Trace())
	}
	// No fail for a SYN that meets fewer than Sum hits, nor for Sum+2
	// knocks and a late SYN (the client's clear), nor for an early SYN.
	m = model(t, s)
	feed(m, KnockTimeline(seq(t, "123"), time.Second, 0, UDP, 22, client))
	m.Open(client, 2050*time.Millisecond)
	feed(m, KnockTimeline(seq(t, "12"), time.Second, 10*time.Second, UDP, 22, client))
	for range s.Sequence.Sum() + 2 {
		m.Packet(Packet{At: 12 * time.Second, Src: client, Proto: UDP, DstPort: 22})
	}
	m.Open(client, 13*time.Second)
	if n := m.Fails(client); n != 0 {
		t.Errorf("%d fails for knocks that cannot open", n)
	}

	// IPv6: five addresses of one /64 share the limit; the sixth is
	// dropped, an address of another /64 is not.
	m = model(t, s)
	for i := 1; i <= 6; i++ {
		src := netip.MustParseAddr(fmt.Sprintf("2001:db8:0:1::%x", 0x100+i))
		tryPattern(m, s, wrong, src, at)
		at += 4 * time.Second
		if want := min(i, 5); m.Fails(src) != want {
			t.Fatalf("/64 source %d: %d fails, want %d", i, m.Fails(src), want)
		}
	}
	if tryPattern(m, s, s.Sequence, netip.MustParseAddr("2001:db8:0:1::1"), at) {
		t.Error("an address of the blocked /64 got in")
	}
	at += 4 * time.Second
	if !tryPattern(m, s, s.Sequence, netip.MustParseAddr("2001:db8:0:2::1"), at) {
		t.Errorf("an address of another /64 was kept out: %v", m.Trace())
	}
	// The knocks list stays per address: a neighbour in the user's /64
	// cannot use the user's knocks.
	m = model(t, Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 22, SecurePort: 22})
	user, neighbour := netip.MustParseAddr("2001:db8:0:3::1"), netip.MustParseAddr("2001:db8:0:3::2")
	feed(m, KnockTimeline(s.Sequence, time.Second, 0, UDP, 22, user))
	if m.Open(neighbour, 3050*time.Millisecond) || !m.Open(user, 3060*time.Millisecond) {
		t.Error("the knocks list is not per address")
	}
}

// TestFailLimitEviction models xt_recent's ip_list_tot: an attacker with
// 1,000 sources, each trying one wrong pattern a round, is never stopped
// when the lists keep 100 sources (each new source evicts the least
// recently seen, whose fails are forgotten), and is stopped after five
// rounds when they keep 1,000.
func TestFailLimitEviction(t *testing.T) {
	s := Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 22, SecurePort: 22}
	wrong := seq(t, "1243")
	for _, tc := range []struct {
		listTot int
		tried   int // patterns not dropped by the block rules
	}{{100, 6 * 1000}, {1000, 5 * 1000}} {
		m := model(t, s)
		for _, tab := range m.tables {
			tab.listTot = tc.listTot
		}
		at, tried := time.Duration(0), 0
		for round := 0; round < 6; round++ {
			for i := 0; i < 1000; i++ {
				src := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
				w := time.Duration(s.Window) * time.Second
				feed(m, KnockTimeline(wrong, w, at, UDP, 22, src))
				m.Open(src, at+3050*time.Millisecond)
				if d, _ := m.Trace().Decider(); d.Chain != "INPUT" {
					tried++ // reached the check chain: a pattern tried
				}
				at += 10 * time.Millisecond // sources knock one after another
			}
			at += 4 * time.Second
		}
		if tried != tc.tried {
			t.Errorf("ip_list_tot %d: %d patterns tried by 1,000 sources in 6 rounds, want %d", tc.listTot, tried, tc.tried)
		}
	}
}
