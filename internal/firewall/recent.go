package firewall

import (
	"math/bits"
	"net/netip"
)

// This file models net/netfilter/xt_recent.c (Linux 4.10 and later) with the
// module parameters ip_pkt_list_tot=0 and ip_list_tot=100, the defaults.

// defaultListTot is xt_recent's default ip_list_tot: the most source
// addresses one list remembers. A new address evicts the least recently
// updated one.
const defaultListTot = 100

// maxHitcount is the largest --hitcount the kernel accepts: it refuses
// hit_count >= XT_RECENT_MAX_NSTAMPS (256).
const maxHitcount = 255

// ringMask is the nstamps_max_mask one rule asks of its list, as
// recent_mt_check computes it when ip_pkt_list_tot is 0: the next power of
// two of --hitcount, 32 without one, minus one.
func ringMask(hitcount int) int {
	if hitcount == 0 {
		return 32 - 1
	}
	return 1<<bits.Len(uint(hitcount-1)) - 1 // roundup_pow_of_two(hitcount) - 1
}

// timeAfter is the kernel's time_after(a, b): whether jiffy a is after b,
// correct across the wraparound of the counter.
func timeAfter(a, b uint64) bool { return int64(b-a) < 0 }

// recentTable is one xt_recent list ("--name"): per source address a ring
// of jiffies. It is shared by IPv4 and IPv6 (entries are keyed by family and
// address, netip.Addr keeps the two apart) as the kernel shares a list of
// one name between iptables and ip6tables rules.
type recentTable struct {
	mask    int // nstamps_max_mask: the ring's size minus one
	mask6   int // the IPv6 prefix length entries are keyed by; 0 for 128
	listTot int // ip_list_tot
	entries map[netip.Addr]*recentEntry
	lru     uint64 // position in the kernel's lru_list: larger is more recent
}

// recentEntry is struct recent_entry.
type recentEntry struct {
	stamps  []uint64 // the ring, mask+1 slots
	nstamps int      // slots in use
	index   int      // where the next stamp goes, before masking
	lru     uint64
}

// newRecentTable returns a list used by rules with the given --hitcount
// values (0 for none): its ring size is the largest any of them asks for,
// as recent_mt_check leaves nstamps_max_mask once all rules are loaded.
func newRecentTable(listTot int, hitcounts ...int) *recentTable {
	t := &recentTable{listTot: listTot, entries: map[netip.Addr]*recentEntry{}}
	for _, h := range hitcounts {
		t.mask = max(t.mask, ringMask(h))
	}
	return t
}

// key returns the address src's entry is keyed by: src itself, or for
// IPv6 its prefix of mask6 bits (nf_inet_addr_mask with the list's mask;
// the mask's first 32 bits are ones, so IPv4 addresses stay whole).
func (t *recentTable) key(src netip.Addr) netip.Addr {
	if t.mask6 == 0 || !src.Is6() || src.Is4In6() {
		return src
	}
	return netip.PrefixFrom(src, t.mask6).Masked().Addr()
}

// touch moves e to the tail of the LRU list (list_add_tail,
// list_move_tail).
func (t *recentTable) touch(e *recentEntry) {
	t.lru++
	e.lru = t.lru
}

// init is recent_entry_init: a new entry for src holding the one stamp j,
// after evicting the head of the LRU list when the list is full.
func (t *recentTable) init(src netip.Addr, j uint64) {
	if len(t.entries) >= t.listTot {
		var oldest netip.Addr
		var min uint64
		for a, e := range t.entries {
			if !oldest.IsValid() || e.lru < min {
				oldest, min = a, e.lru
			}
		}
		delete(t.entries, oldest)
	}
	e := &recentEntry{stamps: make([]uint64, t.mask+1), nstamps: 1, index: 1}
	e.stamps[0] = j
	t.touch(e)
	t.entries[src] = e
}

// update is recent_entry_update: one more stamp in the ring.
func (t *recentTable) update(e *recentEntry, j uint64) {
	e.index &= t.mask
	e.stamps[e.index] = j
	e.index++
	if e.index > e.nstamps {
		e.nstamps = e.index
	}
	t.touch(e)
}

// set is --set: it records a hit for src at jiffy j and always matches.
func (t *recentTable) set(src netip.Addr, j uint64) bool {
	if e := t.entries[src]; e != nil {
		t.update(e, j)
	} else {
		t.init(src, j)
	}
	return true
}

// remove is --remove: it deletes src's entry and matches if there was one.
func (t *recentTable) remove(src netip.Addr) bool {
	if t.entries[src] == nil {
		return false
	}
	delete(t.entries, src)
	return true
}

// rcheck is --rcheck at jiffy j on a kernel with the given HZ: whether src
// has at least hitcount stamps (with hitcount 0: any stamp) no older than
// seconds (with seconds 0: of any age). A stamp is too old when
// time_after(j - seconds·HZ, stamp), i.e. when it is more than seconds·HZ
// jiffies old; seconds·HZ is computed in 32 bits like the kernel's
// info->seconds * HZ. Without an entry it does not match.
func (t *recentTable) rcheck(src netip.Addr, j uint64, seconds, hitcount, hz int) bool {
	e := t.entries[src]
	if e == nil {
		return false
	}
	limit := j - uint64(secondsHZ(seconds, hz))
	hits := 0
	for i := 0; i < e.nstamps; i++ {
		if seconds != 0 && timeAfter(limit, e.stamps[i]) {
			continue
		}
		hits++
		if hitcount == 0 || hits >= hitcount {
			return true
		}
	}
	return false
}

// secondsHZ is seconds·hz truncated to 32 bits, as the kernel computes
// info->seconds * HZ.
func secondsHZ(seconds, hz int) uint32 { return uint32(seconds) * uint32(hz) }

// stamps returns src's stamps in the ring's order (the order of
// /proc/net/xt_recent), nil without an entry.
func (t *recentTable) stamps(src netip.Addr) []uint64 {
	e := t.entries[src]
	if e == nil {
		return nil
	}
	return append([]uint64(nil), e.stamps[:e.nstamps]...)
}
