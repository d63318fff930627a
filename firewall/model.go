package firewall

import (
	"fmt"
	"net/netip"
	"time"
)

// A Packet is one packet from a client as the server's filter table sees
// it.
type Packet struct {
	// At is the arrival time since the model's epoch; non-decreasing.
	At      time.Duration
	Src     netip.Addr
	Proto   Proto
	DstPort int
	// SYN marks a TCP SYN without ACK (a connection attempt or TCP knock).
	SYN bool
	// Established marks a packet of a connection the firewall accepted
	// earlier; the lab's conntrack rule accepts it before the listener.
	Established bool
}

// Verdict is what the firewall does with a packet.
type Verdict int

// The verdicts.
const (
	// Accept: the listener's ACCEPT (or the conntrack rule) took it.
	Accept Verdict = iota + 1
	// Drop: a listener rule (or the DNAT variant's mangle rule) dropped it.
	Drop
	// Policy: it fell through the listener; the chain's policy decides
	// (DROP in the lab).
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

// A Counter is the number of packets that matched one rule, numbered as
// iptables numbers the rules of its chain.
type Counter struct {
	Chain   string
	Rule    int
	Packets uint64
}

// labPrefix is the number of rules the lab puts in INPUT before the
// listener: -i lo ACCEPT, conntrack ESTABLISHED,RELATED ACCEPT, icmp ACCEPT.
const labPrefix = 3

// A Model is the lab's server firewall (policy DROP, loopback, conntrack
// and ICMP accepted, then the listener) with the kernel's xt_recent
// semantics. It is deterministic and not safe for concurrent use.
type Model struct {
	spec   Spec
	hz     int
	phase  time.Duration
	base   uint64
	rules  map[string][]Rule
	counts map[string][]uint64
	table  *recentTable
	last   []string // chain/rule trace of the last packet
}

// NewModel returns a model of s on a kernel with the given HZ. phase shifts
// the jiffy boundaries (0 to 1/hz): real time t is jiffy
// floor((t+phase)·hz) after an arbitrary base near the kernel's wraparound.
func NewModel(s Spec, hz int, phase time.Duration) (*Model, error) {
	if s.Tag == "" {
		s.Tag = "INPUT"
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if hz <= 0 {
		return nil, fmt.Errorf("hz %d is not positive", hz)
	}
	m := &Model{spec: s, hz: hz, phase: phase, base: uint64(1<<32) - uint64(300*hz),
		rules: map[string][]Rule{}, counts: map[string][]uint64{}}
	m.rules["INPUT"] = make([]Rule, labPrefix) // placeholders for the lab's rules
	maxHit := 0
	for _, r := range s.Rules("INPUT") {
		m.rules[r.Chain] = append(m.rules[r.Chain], r)
		if r.Recent != nil && r.Recent.Hitcount > maxHit {
			maxHit = r.Recent.Hitcount
		}
	}
	for c, rs := range m.rules {
		m.counts[c] = make([]uint64, len(rs))
	}
	m.table = newRecentTable(maxHit)
	return m, nil
}

// Jiffies returns the jiffies value at time at.
func (m *Model) Jiffies(at time.Duration) uint64 {
	return m.base + uint64((at+m.phase)*time.Duration(m.hz)/time.Second)
}

// Packet runs p through the firewall and returns its verdict.
func (m *Model) Packet(p Packet) Verdict {
	m.last = m.last[:0]
	if m.spec.DNAT && p.Proto == TCP && !p.Established {
		switch p.DstPort {
		case m.spec.SecurePort:
			m.last = append(m.last, "mangle PREROUTING DROP")
			return Drop
		case m.spec.KnockPort:
			p.DstPort = m.spec.SecurePort
		}
	}
	if p.Established {
		m.count("INPUT", 2)
		return Accept
	}
	j := m.Jiffies(p.At)
	type frame struct {
		chain string
		next  int
	}
	stack := []frame{{"INPUT", labPrefix}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		rules := m.rules[f.chain]
		if f.next >= len(rules) {
			stack = stack[:len(stack)-1]
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
	m.last = append(m.last, fmt.Sprintf("%s #%d", chain, rule))
}

// matches evaluates r's matches in iptables' order: protocol and port
// first, the recent match (with its side effects) only if they matched.
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
	switch r.Recent.Op {
	case Set:
		m.table.set(p.Src, j)
		ok = true
	case Remove:
		ok = m.table.remove(p.Src)
	case Check:
		ok = m.table.rcheck(p.Src, j, r.Recent.Seconds, r.Recent.Hitcount, m.hz)
	}
	return ok != r.Recent.Invert
}

// Trace returns the rules that matched the last packet, as "CHAIN #n".
func (m *Model) Trace() []string { return append([]string(nil), m.last...) }

// Counters returns every rule's packet count, the lab's INPUT rules (1 lo,
// 2 conntrack, 3 icmp) included, so they compare with iptables-save -c.
func (m *Model) Counters() []Counter {
	var cs []Counter
	check, reset := m.spec.Chains()
	for _, c := range []string{"INPUT", check, reset} {
		for i, n := range m.counts[c] {
			cs = append(cs, Counter{Chain: c, Rule: i + 1, Packets: n})
		}
	}
	return cs
}

// Stamps returns src's hits (jiffies, in the kernel's ring order), or nil
// when the list has no entry for src.
func (m *Model) Stamps(src netip.Addr) []uint64 { return m.table.stamps(src) }

// Open sends a connection attempt (a TCP SYN to the secure port) from src
// at time at and reports whether the firewall accepts it. Like the real
// packet it changes the list's state.
func (m *Model) Open(src netip.Addr, at time.Duration) bool {
	port := m.spec.SecurePort
	if m.spec.DNAT {
		port = m.spec.KnockPort
	}
	return m.Packet(Packet{At: at, Src: src, Proto: TCP, DstPort: port, SYN: true}) == Accept
}

// Knocks returns the packets of one well-formed knock of seq starting at
// start: burst k at start+k·window, its knocks back to back (1 µs apart).
func Knocks(seq []int, window, start time.Duration, proto Proto, port int, src netip.Addr) []Packet {
	var ps []Packet
	for k, d := range seq {
		for i := 0; i < d; i++ {
			ps = append(ps, Packet{At: start + time.Duration(k)*window + time.Duration(i)*time.Microsecond,
				Src: src, Proto: proto, DstPort: port, SYN: proto == TCP})
		}
	}
	return ps
}
