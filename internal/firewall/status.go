package firewall

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file reads what the kernel remembers of knocks
// (/proc/net/xt_recent/<list>) and decodes it into bursts, for
// knockssh --server-status and --watch.

// RecentPath returns the file of the recent list named list in the current
// network namespace; xt_recent lists exist on Linux only.
func RecentPath(list string) string { return "/proc/net/xt_recent/" + list }

// A RecentEntry is one source address of an xt_recent list, as
// /proc/net/xt_recent/<list> shows it.
type RecentEntry struct {
	// Src is the source address.
	Src netip.Addr
	// TTL is the TTL of the last packet (used by --rttl, not by the
	// listener).
	TTL int
	// LastSeen is the jiffy of the latest hit.
	LastSeen uint64
	// Index is the kernel's oldest_pkt: where the next hit goes in the
	// ring, before masking.
	Index int
	// Stamps are the hits' jiffies, in the kernel's ring order.
	Stamps []uint64
}

// ParseRecent parses the text of /proc/net/xt_recent/<list>, one line per
// source address:
//
//	src=192.0.2.2 ttl: 64 last_seen: 4295469705 oldest_pkt: 3 4295469704, 4295469704, 4295469705
//
// Errors name the line and what was expected.
func ParseRecent(data []byte) ([]RecentEntry, error) {
	var entries []RecentEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseRecentLine(line)
		if err != nil {
			return nil, fmt.Errorf("xt_recent line %d: %w", n, err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("xt_recent: %w", err)
	}
	return entries, nil
}

func parseRecentLine(line string) (RecentEntry, error) {
	var e RecentEntry
	head, stamps, ok := strings.Cut(line, " oldest_pkt: ")
	f := strings.Fields(head)
	if !ok || len(f) != 5 || !strings.HasPrefix(f[0], "src=") || f[1] != "ttl:" || f[3] != "last_seen:" {
		return e, errors.New(`want "src=ADDR ttl: N last_seen: JIFFIES oldest_pkt: N JIFFIES, ..."`)
	}
	var err error
	if e.Src, err = netip.ParseAddr(strings.TrimPrefix(f[0], "src=")); err != nil {
		return e, fmt.Errorf("src: %w", err)
	}
	if e.TTL, err = strconv.Atoi(f[2]); err != nil || e.TTL < 0 || e.TTL > 255 {
		return e, fmt.Errorf("ttl %q: want 0-255", f[2])
	}
	if e.LastSeen, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return e, fmt.Errorf("last_seen %q: want a jiffies count", f[4])
	}
	sf := strings.Fields(stamps)
	if len(sf) < 2 {
		return e, errors.New("want oldest_pkt and at least one stamp")
	}
	if e.Index, err = strconv.Atoi(sf[0]); err != nil || e.Index < 0 {
		return e, fmt.Errorf("oldest_pkt %q: want a number", sf[0])
	}
	for i, s := range sf[1:] {
		if i < len(sf)-2 {
			var comma bool
			if s, comma = strings.CutSuffix(s, ","); !comma {
				return e, fmt.Errorf("stamp %d: want a comma after it", i+1)
			}
		}
		j, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return e, fmt.Errorf("stamp %d %q: want a jiffies count", i+1, s)
		}
		e.Stamps = append(e.Stamps, j)
	}
	return e, nil
}

// Hits returns e's stamps oldest first. The kernel keeps them in a ring,
// so they are ordered by their age relative to LastSeen, which is correct
// across the wraparound of the jiffies counter.
func (e RecentEntry) Hits() []uint64 {
	h := slices.Clone(e.Stamps)
	sortJiffies(h)
	return h
}

// sortJiffies sorts stamps oldest first, wrap-aware: relative to the
// newest, by the kernel's time_after.
func sortJiffies(s []uint64) {
	if len(s) == 0 {
		return
	}
	ref := s[0]
	for _, j := range s {
		if timeAfter(j, ref) {
			ref = j
		}
	}
	slices.SortStableFunc(s, func(a, b uint64) int {
		da, db := ref-a, ref-b // ages, as unsigned differences
		switch {
		case da > db:
			return -1
		case da < db:
			return 1
		}
		return 0
	})
}

// A Burst is a run of hits with no gap longer than the grouping gap.
type Burst struct {
	// First and Last are the jiffies of its first and last hit.
	First, Last uint64
	// Knocks is the number of hits.
	Knocks int
}

// Bursts groups stamps into bursts: a hit more than gap jiffies after the
// previous one starts a new burst. The stamps may be in any order.
func Bursts(stamps []uint64, gap uint64) []Burst {
	s := slices.Clone(stamps)
	sortJiffies(s)
	var bs []Burst
	for _, j := range s {
		if n := len(bs); n > 0 && j-bs[n-1].Last <= gap {
			bs[n-1].Last = j
			bs[n-1].Knocks++
			continue
		}
		bs = append(bs, Burst{First: j, Last: j, Knocks: 1})
	}
	return bs
}

// BurstGap returns the grouping gap for a listener of the given window
// (0 when unknown) on a kernel with hz: half the window, or half a second.
// A client sends a burst's knocks back to back and the bursts a window
// apart.
func BurstGap(window time.Duration, hz int) uint64 {
	if window <= 0 {
		window = time.Second
	}
	return uint64(window/2) * uint64(hz) / uint64(time.Second)
}

// An openSpan is a run of jiffies, From to To inclusive, in which the
// listener accepts a connection.
type openSpan struct {
	From, To uint64
}

// openSpans returns when the listener s, whose list holds stamps for one
// source, accepts a connection from that source on a kernel with hz: the
// jiffies from the newest stamp on at which a SYN to the secure port
// passes CHECKKNOCKS (at least Sum hits within n·W seconds, exactly Sum
// unless the rules are the seed's, and exactly the last k bursts' knocks
// within k·W seconds for k = 1..n-1), assuming no
// other packet comes first. It is nil when the stamps can never open the
// port.
func (s Spec) openSpans(stamps []uint64, hz int) []openSpan {
	n := len(s.Sequence)
	if len(stamps) == 0 || n == 0 || hz < 1 || s.Window < 1 {
		return nil
	}
	st := slices.Clone(stamps)
	sortJiffies(st)
	ref := st[len(st)-1]
	// Offsets before ref, as positive ages.
	age := make([]int64, len(st))
	for i, j := range st {
		age[i] = int64(ref - j)
	}
	sum := s.Sequence.Sum()
	suffix := make([]int, n) // suffix[k]: the last k bursts' knocks
	for k := 1; k < n; k++ {
		suffix[k] = suffix[k-1] + s.Sequence[n-k]
	}
	// count is the number of stamps within seconds of jiffy ref+d: stamp
	// ref-a counts unless time_after(ref+d-seconds·hz, ref-a), i.e. when
	// a+d <= seconds·hz.
	count := func(d int64, seconds int) int {
		lim := int64(secondsHZ(seconds, hz))
		c := 0
		for _, a := range age {
			if a+d <= lim {
				c++
			}
		}
		return c
	}
	opens := func(d int64) bool {
		if c := count(d, n*s.Window); c < sum || c > sum && !s.Seed {
			return false
		}
		for k := 1; k < n; k++ {
			if count(d, k*s.Window) != suffix[k] {
				return false
			}
		}
		return true
	}
	// The counts change only just after a stamp leaves a --seconds span.
	cuts := []int64{0}
	for _, a := range age {
		for k := 1; k <= n; k++ {
			if d := int64(secondsHZ(k*s.Window, hz)) - a + 1; d > 0 {
				cuts = append(cuts, d)
			}
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var spans []openSpan
	for i, d := range cuts {
		if !opens(d) {
			continue
		}
		if i+1 == len(cuts) { // open for ever: impossible, as n·W passes
			continue
		}
		from, to := ref+uint64(d), ref+uint64(cuts[i+1]-1)
		if m := len(spans); m > 0 && spans[m-1].To+1 == from {
			spans[m-1].To = to
			continue
		}
		spans = append(spans, openSpan{From: from, To: to})
	}
	return spans
}

// Progress is how far the knocks of one source got, decoded against a
// listener.
type Progress struct {
	// Bursts are the hits grouped into bursts, oldest first.
	Bursts []Burst
	// Matched is the number of trailing bursts that form the start of the
	// sequence, each a window after the previous: a complete knock has
	// Matched equal to the number of bursts of the sequence.
	Matched int
	// Open is when the port accepts a connection (openSpans).
	Open []openSpan
}

// Decode returns the progress of stamps against s on a kernel with hz.
// It says whether the bursts match, never what the sequence is.
func (s Spec) Decode(stamps []uint64, hz int) Progress {
	w := time.Duration(s.Window) * time.Second
	p := Progress{Bursts: Bursts(stamps, BurstGap(w, hz)), Open: s.openSpans(stamps, hz)}
	wj := int64(s.Window) * int64(hz)
	for k := min(len(p.Bursts), len(s.Sequence)); k > 0; k-- {
		run := p.Bursts[len(p.Bursts)-k:]
		ok := true
		for i, b := range run {
			if b.Knocks != s.Sequence[i] {
				ok = false
				break
			}
			if i > 0 {
				if d := int64(b.First - run[i-1].First); d < wj/2 || d > wj+wj/2 {
					ok = false
					break
				}
			}
		}
		if ok {
			p.Matched = k
			break
		}
	}
	return p
}

// HZ values a Linux kernel may be configured with.
var knownHZ = []int{100, 250, 300, 1000, 24, 32, 48, 64, 128, 200, 256, 512, 1024, 1200}

// initialJiffies is the kernel's INITIAL_JIFFIES on 64-bit machines for a
// given HZ: the counter starts 300 seconds before its 32-bit wraparound.
func initialJiffies(hz int) uint64 { return uint64(uint32(-300 * int32(hz))) }

// inferHZ returns the HZ that best explains a jiffies value read at the
// given CLOCK_MONOTONIC time (since boot), assuming the counter started at
// initialJiffies(HZ) at boot. It reports false when no candidate is within
// 2% plus a second. Around 300 s of uptime every HZ puts the counter near
// its 32-bit wrap, and the answer may be wrong: the kernel config is the
// better source.
func inferHZ(jiffies uint64, mono time.Duration) (int, bool) {
	best, bestErr := 0, float64(-1)
	for _, hz := range knownHZ {
		want := float64(initialJiffies(hz)) + mono.Seconds()*float64(hz)
		d := float64(jiffies) - want
		if d < 0 {
			d = -d
		}
		d /= float64(hz) // in seconds
		if bestErr < 0 || d < bestErr {
			best, bestErr = hz, d
		}
	}
	if bestErr < 0 || bestErr > 1+0.02*mono.Seconds() {
		return 0, false
	}
	return best, true
}

// A KernelClock relates jiffies to the present.
type KernelClock struct {
	// HZ is the kernel's tick rate.
	HZ int
	// Now is the jiffies counter when the clock was read.
	Now uint64
	// Exact says Now was read from the kernel (/proc/timer_list), not
	// estimated from CLOCK_MONOTONIC.
	Exact bool
	// Source says where HZ and Now came from, for -v.
	Source string
}

// Seconds returns the time from the clock's Now to jiffy j, negative in
// the past.
func (c KernelClock) Seconds(j uint64) time.Duration {
	// Whole seconds and the rest apart: d·1e9 overflows after 106 days
	// at HZ=1000.
	d := int64(j - c.Now)
	hz := int64(c.HZ)
	return time.Duration(d/hz)*time.Second + time.Duration(d%hz)*time.Second/time.Duration(hz)
}

// toJiffies converts d (not negative) to jiffies at hz without overflow.
func toJiffies(d time.Duration, hz int) uint64 {
	return uint64(d/time.Second)*uint64(hz) + uint64(d%time.Second)*uint64(hz)/uint64(time.Second)
}
