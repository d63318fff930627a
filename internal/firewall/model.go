package firewall

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"

	"github.com/knockssh/knockssh/knocker"
)

// A Packet is one packet from a client as the server's firewall sees it on
// arrival.
type Packet struct {
	// At is the arrival time since the model's epoch. Arrival times are
	// non-decreasing: an earlier At is taken as the previous packet's.
	At  time.Duration
	Src netip.Addr
	// SrcPort tells TCP connections from one address apart; leave it 0
	// when there is only one.
	SrcPort int
	Proto   Proto
	DstPort int
	// SYN marks a TCP SYN without ACK: a connection attempt or a TCP knock.
	SYN bool
	// Established marks a TCP segment (never a SYN) of a connection the
	// client considers open. When the model accepted that connection (same
	// Src, SrcPort and DstPort) the lab's conntrack rule accepts the
	// segment before the listener sees it. Otherwise conntrack picks it up
	// as a new connection (nf_conntrack_tcp_loose=1, the default) and it
	// runs through the listener like any other TCP segment: to the secure
	// port, it traverses CHECKKNOCKS.
	Established bool
}

// Verdict is what the firewall does with a packet.
type Verdict int

// The verdicts.
const (
	// Accept: the listener's final ACCEPT took the packet, or one of the
	// lab's rules before the listener (loopback, conntrack, ICMP).
	Accept Verdict = iota + 1
	// Drop: a listener rule dropped the packet (a knock, a reset), or in
	// the DNAT variant the mangle rule that drops TCP sent straight to the
	// secure port.
	Drop
	// Policy: the packet fell through the listener; the chain's policy
	// decides (DROP in the lab).
	Policy
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Policy:
		return "policy"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// A Step is a rule whose matches a packet satisfied, so that the packet
// took the rule's target.
type Step struct {
	Table  string // "filter", "mangle" or "nat"
	Chain  string
	Rule   int    // 1-based, as iptables -L --line-numbers counts
	Target string // ACCEPT, DROP, RETURN, DNAT or a chain
}

// String formats the step as "CHAIN #n -> TARGET", prefixed by the table
// when it is not filter.
func (s Step) String() string {
	t := ""
	if s.Table != "filter" {
		t = s.Table + " "
	}
	return fmt.Sprintf("%s%s #%d -> %s", t, s.Chain, s.Rule, s.Target)
}

// A Trace is the way of one packet through the firewall.
type Trace struct {
	Steps   []Step
	Verdict Verdict
}

// Decider returns the rule that decided the verdict: the last step, when
// the verdict is Accept or Drop. With Policy no rule decided.
func (t Trace) Decider() (Step, bool) {
	if t.Verdict == Policy || len(t.Steps) == 0 {
		return Step{}, false
	}
	return t.Steps[len(t.Steps)-1], true
}

// String formats the trace as its steps and the verdict.
func (t Trace) String() string {
	var b strings.Builder
	for _, s := range t.Steps {
		b.WriteString(s.String() + ", ")
	}
	return b.String() + t.Verdict.String()
}

// A Counter is the number of packets that matched one rule, numbered as
// iptables numbers the rules of its chain.
type Counter struct {
	Chain   string
	Rule    int
	Packets uint64
}

// labRules is the number of rules the lab puts in INPUT before the listener:
// -i lo ACCEPT, conntrack ESTABLISHED,RELATED ACCEPT, icmp ACCEPT.
const labRules = 3

// knockGap is the time between two knocks of a burst in KnockTimeline.
const knockGap = time.Microsecond

// connKey identifies a TCP connection by its original (pre-DNAT) tuple.
type connKey struct {
	src     netip.Addr
	srcPort int
	dstPort int
}

// A Model is the lab's server firewall: in the DNAT variant the mangle and
// nat PREROUTING rules, then INPUT with policy DROP, the lab's three rules
// (loopback, conntrack ESTABLISHED,RELATED, ICMP) and the listener
// appended, all with the kernel's xt_recent and conntrack semantics. It is
// deterministic, and not safe for concurrent use.
//
// The knocks list is shared by IPv4 and IPv6 sources, as the kernel shares
// a list name between iptables and ip6tables rules (and their ip_list_tot
// limit); the fail lists are one per family. The IPv4 and IPv6 rules have
// the same shape (they differ in the fail lists only), so Counters add up
// both families, which iptables and ip6tables count apart. Accepted
// connections never expire.
type Model struct {
	spec   Spec
	hz     int
	phase  time.Duration
	base   uint64
	chains map[string][]Rule // the IPv4 rules; INPUT starts with labRules placeholders
	chain6 map[string][]Rule // the IPv6 rules
	counts map[string][]uint64
	tables map[string]*recentTable // by list name
	conns  map[connKey]bool
	now    time.Duration
	trace  Trace
}

// NewModel returns a model of the listener s on a kernel with the given HZ.
// The epoch is phase into a jiffy (0 <= phase < 1s/hz): time t is jiffy
// initialJiffies(hz) + floor((t+phase)·hz/1s), so tests can put knocks
// anywhere relative to the jiffy boundaries.
func NewModel(s Spec, hz int, phase time.Duration) (*Model, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	if hz < 1 || hz > int(time.Second) {
		return nil, fmt.Errorf("hz %d out of range 1-%d", hz, int(time.Second))
	}
	if jiffy := time.Second / time.Duration(hz); phase < 0 || phase >= jiffy {
		return nil, fmt.Errorf("phase %v is not within one jiffy (0 to %v)", phase, jiffy)
	}
	m := &Model{spec: s, hz: hz, phase: phase, base: initialJiffies(hz),
		chains: map[string][]Rule{"INPUT": make([]Rule, labRules)}, chain6: map[string][]Rule{"INPUT": make([]Rule, labRules)},
		counts: map[string][]uint64{}, tables: map[string]*recentTable{}, conns: map[connKey]bool{}}
	hitcounts := map[string][]int{}
	for _, f := range []struct {
		family int
		chains map[string][]Rule
	}{{4, m.chains}, {6, m.chain6}} {
		for _, r := range s.FamilyRules("INPUT", f.family) {
			f.chains[r.Chain] = append(f.chains[r.Chain], r)
			if rc := r.Recent; rc != nil {
				hitcounts[rc.List] = append(hitcounts[rc.List], rc.Hitcount)
			}
		}
	}
	for c, rs := range m.chains {
		m.counts[c] = make([]uint64, len(rs))
	}
	for name, hs := range hitcounts {
		m.tables[name] = newRecentTable(defaultListTot, hs...)
	}
	// xt_recent keys a list by the source masked with the mask of the rule
	// that created it; the generated rules give every rule of a list the
	// same mask.
	for _, rs := range m.chain6 {
		for _, r := range rs {
			if rc := r.Recent; rc != nil && rc.Mask != 0 {
				m.tables[rc.List].mask6 = rc.Mask
			}
		}
	}
	return m, nil
}

// list returns the recent table of a rule's match.
func (m *Model) list(rc *Recent) *recentTable { return m.tables[rc.List] }

// Clone returns an independent copy of m, to ask "what if" without changing
// m.
func (m *Model) Clone() *Model {
	c := *m
	c.counts = map[string][]uint64{}
	for k, v := range m.counts {
		c.counts[k] = append([]uint64(nil), v...)
	}
	c.conns = maps.Clone(m.conns)
	c.tables = map[string]*recentTable{}
	for name, mt := range m.tables {
		t := *mt
		t.entries = map[netip.Addr]*recentEntry{}
		for a, e := range mt.entries {
			ec := *e
			ec.stamps = append([]uint64(nil), e.stamps...)
			t.entries[a] = &ec
		}
		c.tables[name] = &t
	}
	c.trace.Steps = append([]Step(nil), m.trace.Steps...)
	return &c
}

// Jiffies returns the kernel's jiffies counter at time at.
func (m *Model) Jiffies(at time.Duration) uint64 {
	t := at + m.phase
	q, r := t/time.Second, t%time.Second
	if r < 0 { // floor, not truncation, before the epoch
		q, r = q-1, r+time.Second
	}
	return m.base + uint64(q)*uint64(m.hz) + uint64(r)*uint64(m.hz)/uint64(time.Second)
}

// Packet runs p through the firewall and returns its verdict.
func (m *Model) Packet(p Packet) Verdict {
	if p.At < m.now {
		p.At = m.now
	}
	m.now = p.At
	m.trace = Trace{}
	v := m.packet(p)
	m.trace.Verdict = v
	return v
}

// feed runs the packets through the firewall in order and returns their
// verdicts.
func (m *Model) feed(ps []Packet) []Verdict {
	vs := make([]Verdict, len(ps))
	for i, p := range ps {
		vs[i] = m.Packet(p)
	}
	return vs
}

func (m *Model) packet(p Packet) Verdict {
	if p.Src.IsLoopback() { // the lab's PREROUTING rules are -i eth0
		m.count("INPUT", 1)
		return Accept
	}
	if p.Established {
		p.SYN = false
	}
	if m.spec.DNAT && p.Proto == TCP && p.DstPort == m.spec.SecurePort {
		m.trace.Steps = append(m.trace.Steps, Step{"mangle", "PREROUTING", 1, "DROP"})
		return Drop
	}
	key := connKey{p.Src, p.SrcPort, p.DstPort}
	if p.Proto == TCP && p.Established && m.conns[key] {
		m.count("INPUT", 2)
		return Accept
	}
	// The nat table sees the first packet of each connection only; every
	// packet that gets here starts one, as only accepted ones are tracked.
	if m.spec.DNAT && p.Proto == TCP && p.DstPort == m.spec.KnockPort {
		m.trace.Steps = append(m.trace.Steps, Step{"nat", "PREROUTING", 1, "DNAT"})
		p.DstPort = m.spec.SecurePort
	}
	if p.Proto == ICMP {
		m.count("INPUT", 3)
		return Accept
	}
	v := m.filter(p)
	if v == Accept && p.Proto == TCP {
		m.conns[key] = true
	}
	return v
}

// filter runs p through INPUT from the listener's first rule on, following
// jumps and returns.
func (m *Model) filter(p Packet) Verdict {
	j := m.Jiffies(p.At)
	type frame struct {
		chain string
		next  int // index of the next rule
	}
	chains := m.chains
	if p.Src.Is6() && !p.Src.Is4In6() {
		chains = m.chain6
	}
	stack := []frame{{"INPUT", labRules}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		rules := chains[f.chain]
		if f.next >= len(rules) {
			stack = stack[:len(stack)-1] // end of a user chain: implicit RETURN
			continue
		}
		i := f.next
		f.next++
		r := rules[i]
		if !m.matches(r, p, j) {
			continue
		}
		m.count(f.chain, i+1)
		switch r.Target {
		case "ACCEPT":
			return Accept
		case "DROP":
			return Drop
		case "RETURN":
			stack = stack[:len(stack)-1]
		default:
			stack = append(stack, frame{r.Target, 0})
		}
	}
	return Policy
}

func (m *Model) count(chain string, rule int) {
	m.counts[chain][rule-1]++
	target := "ACCEPT" // the lab's rules
	if r := m.chains[chain][rule-1]; r.Target != "" {
		target = r.Target
	}
	m.trace.Steps = append(m.trace.Steps, Step{"filter", chain, rule, target})
}

// matches evaluates r's matches in iptables' order: protocol, --syn and
// --dport first, then the recent match, whose side effects happen only if
// the others matched.
func (m *Model) matches(r Rule, p Packet, j uint64) bool {
	if r.Proto != 0 && r.Proto != p.Proto {
		return false
	}
	if r.DstPort != 0 && r.DstPort != p.DstPort {
		return false
	}
	if r.SYN && !p.SYN {
		return false
	}
	if r.Recent == nil {
		return true
	}
	var ok bool
	t := m.list(r.Recent)
	src := t.key(p.Src)
	switch r.Recent.Op {
	case Set:
		ok = t.set(src, j)
	case Remove:
		ok = t.remove(src)
	case Check:
		ok = t.rcheck(src, j, r.Recent.Seconds, r.Recent.Hitcount, m.hz)
	}
	return ok != r.Recent.Invert
}

// Trace returns the way of the last packet: every rule it matched, in
// order, and its verdict; Decider tells which rule decided.
func (m *Model) Trace() Trace {
	t := m.trace
	t.Steps = append([]Step(nil), t.Steps...)
	return t
}

// Counters returns every rule's packet count in INPUT (the lab's rules 1
// loopback, 2 conntrack and 3 ICMP, then the listener's), CHECKKNOCKS_<Tag>
// and RESETKNOCKS_<Tag>, in iptables' numbering, to compare with
// iptables-save -c or iptables -L -v.
func (m *Model) Counters() []Counter {
	var cs []Counter
	check, reset := m.spec.Chains()
	for _, c := range []string{"INPUT", check, reset, m.spec.FailChain()} {
		for i, n := range m.counts[c] {
			cs = append(cs, Counter{Chain: c, Rule: i + 1, Packets: n})
		}
	}
	return cs
}

// Stamps returns src's hits as jiffies in the kernel's ring order (as
// /proc/net/xt_recent lists them: oldest first until the ring wraps), or
// nil when the list has no entry for src.
func (m *Model) Stamps(src netip.Addr) []uint64 { return m.knocks().stamps(src) }

// knocks returns the knocks list.
func (m *Model) knocks() *recentTable { return m.tables[m.spec.List()] }

// Fails returns the number of fails the fail list of src's family holds
// for src (for its /FailPrefix6 when IPv6), of any age; 0 without a fail
// limit.
func (m *Model) Fails(src netip.Addr) int {
	fam := 4
	if src.Is6() && !src.Is4In6() {
		fam = 6
	}
	t := m.tables[m.spec.FailList(fam)]
	if t == nil {
		return 0
	}
	return len(t.stamps(t.key(src)))
}

// Open sends a connection attempt, a TCP SYN to the port clients connect
// to (the secure port; the knock port in the DNAT variant), from src at
// time at and reports whether the firewall accepts it. Like the real packet
// it changes the list: an accepted SYN removes the entry, a SYN that meets
// a wrong pattern resets it, and when the secure port is the knock port a
// SYN that returns from CHECKKNOCKS is a knock.
func (m *Model) Open(src netip.Addr, at time.Duration) bool {
	port := m.spec.SecurePort
	if m.spec.DNAT {
		port = m.spec.KnockPort
	}
	return m.Packet(Packet{At: at, Src: src, Proto: TCP, DstPort: port, SYN: true}) == Accept
}

// KnockTimeline returns the packets of a well-formed knock of seq from src
// to port starting at start: burst k (from 0) at start+k·window, its knocks
// knockGap apart. TCP knocks are SYNs.
func KnockTimeline(seq knocker.Sequence, window, start time.Duration, proto Proto, port int, src netip.Addr) []Packet {
	var ps []Packet
	for k, d := range seq {
		for i := 0; i < d; i++ {
			ps = append(ps, Packet{At: start + time.Duration(k)*window + time.Duration(i)*knockGap,
				Src: src, Proto: proto, DstPort: port, SYN: proto == TCP})
		}
	}
	return ps
}
