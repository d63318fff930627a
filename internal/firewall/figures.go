package firewall

import (
	"fmt"
	"math"
	"strings"
)

// The brute-force figures of a listener: how long an attacker who tries
// candidate sequences, one wrong pattern after another, takes on average to
// hit the true one. They depend on the number of bursts, the window and
// the fail limit, never on the digits, so printing them reveals nothing.

// RecommendedListTot is the ip_list_tot knockssh recommends (xt_recent's
// default, defaultListTot, is 100): the most sources one recent list
// remembers.
//
// With more attacker sources than ip_list_tot, new sources evict the least
// recently seen ones: their fails are forgotten and the fail limit stops
// holding, and knocks from that many sources (spoofed ones too) evict a
// real user's knocks. An entry is 56 bytes and 8 a ring slot, rounded up
// to the kernel's slab sizes: 16384 entries of a knocks list whose ring has
// 128 slots (2·Sum+1 ≤ 127, every 7-burst sequence) take 16384 × 2 KiB =
// 32 MiB at most (256 slots: 64 MiB), of each fail list (32 slots)
// 16384 × 512 B = 8 MiB, plus 32768 hash buckets (512 KiB) per list when
// the list is created. Only sources actually seen take memory.
const RecommendedListTot = 16384

// Candidates returns how many sequences an attacker must consider: 9^n for
// the hardened rules, where only the true sequence opens; 5·9^(n-1) for the
// seed's, whose first burst opens with d1 or d1+1 knocks, so that a guess
// covers two values of it.
func (s Spec) Candidates() float64 {
	n := float64(len(s.Sequence))
	if s.Seed {
		return 5 * math.Pow(9, n-1)
	}
	return math.Pow(9, n)
}

// BruteForce returns the expected seconds for an attacker with the given
// number of sources (IPv4 addresses; IPv6 prefixes of FailPrefix6 bits) to
// hit the sequence, on a kernel whose xt_recent keeps listTot sources per
// list: half the candidates, at one candidate per wrong pattern. A source
// tries at most one pattern per (n-1)·W (its bursts take that long, and a
// fail resets the list for the next at once) and, with a
// fail limit that holds, L per P. The limit holds while the fail list keeps
// every source (sources ≤ listTot); with more, the attacker cycles through
// its sources faster than the list remembers them, and only the knocks
// list bounds it: patterns from more than listTot sources at once evict
// each other's knocks.
func (s Spec) BruteForce(sources, listTot int) float64 {
	perSource := 1 / s.patternSeconds()
	if l, p, _ := s.FailLimits(); l > 0 && sources <= listTot {
		perSource = math.Min(perSource, float64(l)/float64(p))
	}
	rate := float64(min(sources, listTot)) * perSource
	return s.Candidates() / 2 / rate
}

// patternSeconds is the time one pattern takes: (n-1)·W, at least W.
func (s Spec) patternSeconds() float64 {
	return float64(max(len(s.Sequence)-1, 1) * s.Window)
}

// FormatSpan formats seconds as a rounded span: "1309 years", "48 days",
// "5.8 days", "1.4 hours".
func FormatSpan(sec float64) string {
	for _, u := range []struct {
		name string
		s    float64
	}{{"years", 365.25 * 86400}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}} {
		if sec >= u.s {
			return round(sec/u.s) + " " + u.name
		}
	}
	return round(sec) + " seconds"
}

// round gives two significant digits below 10, whole numbers above.
func round(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// figureSources are the attacker sizes the figures are given for.
var figureSources = []int{1, 100, 10000}

// Figures returns the brute-force figures of the listener as comment
// lines: the candidates, the limit, and the expected time for 1, 100 and
// 10,000 sources with ip_list_tot at least that, and at the default
// ip_list_tot.
func (s Spec) Figures() string {
	var b strings.Builder
	n := len(s.Sequence)
	l, p, prefix := s.FailLimits()
	if s.Seed {
		fmt.Fprintf(&b, "# Brute force: the seed's rules check the first burst as d1 or d1+1 knocks:\n")
		fmt.Fprintf(&b, "# 5*9^%d = %.0f candidates, no fail limit, one pattern per %.0f s per source.\n", n-1, s.Candidates(), s.patternSeconds())
	} else {
		fmt.Fprintf(&b, "# Brute force: only the true sequence opens: 9^%d = %.0f candidates, one per\n", n, s.Candidates())
		if l > 0 {
			fmt.Fprintf(&b, "# wrong pattern; a source (an IPv4 address, an IPv6 /%d) gets %d per %s.\n", prefix, l, period(p))
		} else {
			fmt.Fprintf(&b, "# wrong pattern; no fail limit: one pattern per %.0f s per source.\n", s.patternSeconds())
		}
	}
	var at []string
	for _, a := range figureSources {
		at = append(at, fmt.Sprintf("%s from %d", FormatSpan(s.BruteForce(a, a)), a))
	}
	fmt.Fprintf(&b, "# Expected time to find it, with xt_recent's ip_list_tot at least the number\n# of sources: %s.\n", strings.Join(at, ", "))
	if !s.Seed && l > 0 && prefix > 48 && prefix-48 < 31 {
		// A /48 is what a tunnel broker hands out for free: its /64s
		// are so many sources, more than any ip_list_tot remembers.
		many := 1 << (prefix - 48)
		fmt.Fprintf(&b, "# One IPv6 /48 holds %d /%ds: %s from one /48 with ip_list_tot=%d\n", many, prefix, FormatSpan(s.BruteForce(many, RecommendedListTot)), RecommendedListTot)
		fmt.Fprintf(&b, "# (--fail-prefix6 48 makes a /48 one source, shared by all its hosts).\n")
	}
	big := figureSources[len(figureSources)-1]
	fmt.Fprintf(&b, "# At the default ip_list_tot=%d more sources evict each other's entries (the\n", defaultListTot)
	fmt.Fprintf(&b, "# fail limit stops holding): %s from %d. Set \"options xt_recent\n", FormatSpan(s.BruteForce(big, defaultListTot)), big)
	fmt.Fprintf(&b, "# ip_list_tot=%d\" (knockssh --install says how).\n", RecommendedListTot)
	return b.String()
}

// period formats a fail period: "1 day", "12 hours", "90 s".
func period(sec int) string {
	switch {
	case sec%86400 == 0:
		return plural(sec/86400, "day")
	case sec%3600 == 0:
		return plural(sec/3600, "hour")
	case sec%60 == 0:
		return plural(sec/60, "minute")
	}
	return fmt.Sprintf("%d s", sec)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
