package firewall

import (
	"math/bits"
	"net/netip"
)

// ipListTot is xt_recent's default ip_list_tot: the most source addresses
// a list remembers; the least recently updated one is evicted first.
const ipListTot = 100

// maxHitcount is the largest --hitcount the kernel accepts
// (XT_RECENT_MAX_NSTAMPS - 1).
const maxHitcount = 255

// recentTable models one xt_recent list as the kernel (4.10 and later, with
// ip_pkt_list_tot=0) keeps it: per source address a ring of jiffies whose
// size is the next power of two of the largest --hitcount of the rules
// using the list (at least 32).
type recentTable struct {
	mask    int // ring size - 1
	entries map[netip.Addr]*recentEntry
	touch   uint64 // LRU clock
}

type recentEntry struct {
	stamps  []uint64
	nstamps int
	index   int
	lru     uint64
}

func newRecentTable(maxHit int) *recentTable {
	size := 32
	if maxHit > 0 {
		if p := 1 << bits.Len(uint(maxHit-1)); p > size {
			size = p
		}
	}
	return &recentTable{mask: size - 1, entries: map[netip.Addr]*recentEntry{}}
}

// set records a hit at jiffies j; it always matches.
func (t *recentTable) set(src netip.Addr, j uint64) {
	t.touch++
	e := t.entries[src]
	if e == nil {
		if len(t.entries) >= ipListTot {
			t.evict()
		}
		e = &recentEntry{stamps: make([]uint64, t.mask+1)}
		e.stamps[0], e.nstamps, e.index = j, 1, 1
		e.lru = t.touch
		t.entries[src] = e
		return
	}
	e.index &= t.mask
	e.stamps[e.index] = j
	e.index++
	if e.index > e.nstamps {
		e.nstamps = e.index
	}
	e.lru = t.touch
}

func (t *recentTable) evict() {
	var oldest netip.Addr
	var min uint64
	for a, e := range t.entries {
		if !oldest.IsValid() || e.lru < min {
			oldest, min = a, e.lru
		}
	}
	delete(t.entries, oldest)
}

// remove deletes the entry and reports whether there was one.
func (t *recentTable) remove(src netip.Addr) bool {
	if t.entries[src] == nil {
		return false
	}
	delete(t.entries, src)
	return true
}

// rcheck reports whether src has at least hitcount stamps no older than
// seconds·hz jiffies at jiffies j (seconds 0: any age), as recent_mt does,
// with time_after's wraparound-safe comparison.
func (t *recentTable) rcheck(src netip.Addr, j uint64, seconds, hitcount, hz int) bool {
	e := t.entries[src]
	if e == nil {
		return false
	}
	limit := j - uint64(seconds)*uint64(hz)
	hits := 0
	for i := 0; i < e.nstamps; i++ {
		if seconds != 0 && int64(e.stamps[i]-limit) < 0 { // time_after(limit, stamp)
			continue
		}
		hits++
		if hitcount == 0 || hits >= hitcount {
			return true
		}
	}
	return false
}

// stamps returns src's stamps in ring order, nil without an entry.
func (t *recentTable) stamps(src netip.Addr) []uint64 {
	e := t.entries[src]
	if e == nil {
		return nil
	}
	return append([]uint64(nil), e.stamps[:e.nstamps]...)
}
