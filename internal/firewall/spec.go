// Package firewall models and generates the Open Sesamy server rules: the
// seed's portKnockListener iptables function, generalized to any number of
// bursts.
//
// Spec describes a listener; Spec.Rules lists its rules in the seed's order;
// Model runs packets through them with the xt_recent semantics of the Linux
// kernel (per-source rings of jiffies, --set/--rcheck/--remove, --seconds,
// --hitcount), so tests of knock schedules, jitter, loss and retries run in
// microseconds and deterministically. The lab's differential test replays
// the same packet timelines in the kernel and checks that both agree rule by
// rule.
package firewall

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/knockssh/knockssh/knocker"
)

// Spec describes one knock listener.
type Spec struct {
	// Sequence is the secret: burst k counts Sequence[k] knocks.
	Sequence knocker.Sequence
	// Window is KNOCKWINDOW in whole seconds.
	Window int
	// KnockPort receives the knocks; SecurePort is the protected port.
	// They may be equal.
	KnockPort, SecurePort int
	// DNAT says TCP for KnockPort is DNAT'ed to SecurePort before the
	// filter table sees it (the seed's 443→22 example), so TCP knocks never
	// count: use UDP knocks.
	DNAT bool
	// Tag names the chains (CHECKKNOCKS_<Tag>, RESETKNOCKS_<Tag>,
	// FAILKNOCKS_<Tag>) and the recent lists (knocks_<Tag>, and the fail
	// lists of FailList); the seed uses the input chain's name.
	Tag string
	// Seed selects the seed's rules verbatim: the first burst is checked
	// only as "at least d1", and there is no fail limit. Without it the
	// rules are hardened: only the true sequence opens, and a source that
	// fails FailLimit times in FailPeriod is dropped (see FamilyRules).
	Seed bool
	// FailLimit is how many failed patterns within FailPeriod get a source
	// dropped: 0 means DefaultFailLimit, NoFailLimit none. A fail is a
	// packet to the secure port that meets Sum or more hits within the
	// bursts' span but not the sequence's pattern.
	FailLimit int
	// FailPeriod is the period of the fail limit in whole seconds; 0
	// means DefaultFailPeriod.
	FailPeriod int
	// FailPrefix6 is the IPv6 prefix length by which fails are counted:
	// every address of one /FailPrefix6 is one source (an IPv6 user
	// commonly has a /64 of them). 0 means DefaultFailPrefix6. IPv4 fails
	// are counted per address. Knocks are always counted per address.
	FailPrefix6 int
}

// The fail limit's defaults: 5 fails a day per source. See Figures for
// what they give against brute force.
const (
	DefaultFailLimit   = 5
	DefaultFailPeriod  = 86400
	DefaultFailPrefix6 = 64
	// NoFailLimit as FailLimit turns the fail limit off.
	NoFailLimit = -1
)

// MaxFailPeriod is the longest FailPeriod in seconds, and the longest span
// of the bursts (Window times their number): the kernel computes
// --seconds·HZ in 32 bits, and HZ may be 1000 (49.7 days).
const MaxFailPeriod = math.MaxUint32 / 1000

// failLimit returns the fail limit in force, 0 for none.
func (s Spec) failLimit() int {
	switch {
	case s.Seed || s.FailLimit < 0:
		return 0
	case s.FailLimit == 0:
		return DefaultFailLimit
	}
	return s.FailLimit
}

// failPeriod returns the fail limit's period in seconds.
func (s Spec) failPeriod() int {
	if s.FailPeriod == 0 {
		return DefaultFailPeriod
	}
	return s.FailPeriod
}

// failPrefix6 returns the IPv6 prefix length fails are counted by.
func (s Spec) failPrefix6() int {
	if s.FailPrefix6 == 0 {
		return DefaultFailPrefix6
	}
	return s.FailPrefix6
}

// FailLimits returns the fail limit in force: L fails per P seconds, with
// IPv6 sources counted by /prefix6; l is 0 when there is no limit (the
// seed's rules, or NoFailLimit).
func (s Spec) FailLimits() (l, p, prefix6 int) {
	return s.failLimit(), s.failPeriod(), s.failPrefix6()
}

func (s Spec) tag() string {
	if s.Tag == "" {
		return "INPUT"
	}
	return s.Tag
}

// maxTagLen is the longest Tag: iptables refuses chain names of 29
// characters or more, and CHECKKNOCKS_ takes 12.
const maxTagLen = 16

// Validate reports whether every kernel this package models can load the
// spec's rules. Its errors never reveal the sequence: not its digits, not
// its sum.
//
// The cleanup rule's --hitcount 2·Sum+1 must stay below 256, the limit of
// kernels before 2024 (Debian 12's 6.1 among them); newer kernels (the lab's
// 6.18) accept up to 65535, but a listener should load everywhere.
func (s Spec) Validate() error {
	if err := s.Sequence.Validate(); err != nil {
		return err
	}
	if s.Window < 1 {
		return fmt.Errorf("window %d is not a positive number of seconds", s.Window)
	}
	// The bursts' span is a --seconds value too, and the kernel computes
	// --seconds·HZ in 32 bits: a longer span would wrap and match stale
	// hits as fresh (or fresh ones as stale).
	if uint64(s.Window)*uint64(len(s.Sequence)) > MaxFailPeriod {
		return fmt.Errorf("window %d s: the bursts would span more than %d seconds (the kernel computes --seconds times HZ in 32 bits)", s.Window, MaxFailPeriod)
	}
	for _, p := range []int{s.KnockPort, s.SecurePort} {
		if p < 1 || p > 65535 {
			return fmt.Errorf("port %d out of range 1-65535", p)
		}
	}
	if s.DNAT && s.KnockPort == s.SecurePort {
		return errors.New("the DNAT variant needs distinct knock and secure ports")
	}
	if err := checkTag(s.Tag); err != nil {
		return err
	}
	if s.FailLimit < NoFailLimit || s.FailLimit > maxHitcount {
		return fmt.Errorf("fail limit %d: want 1 to %d failed patterns, or none", s.FailLimit, maxHitcount)
	}
	if s.FailPeriod < 0 || s.FailPeriod > MaxFailPeriod {
		return fmt.Errorf("fail period %d s: want 1 to %d seconds (the kernel computes --seconds times HZ in 32 bits)", s.FailPeriod, MaxFailPeriod)
	}
	if s.FailPrefix6 < 0 || s.FailPrefix6 > 128 {
		return fmt.Errorf("IPv6 fail prefix /%d: want 1 to 128", s.FailPrefix6)
	}
	if 2*s.Sequence.Sum()+1 > maxHitcount {
		return fmt.Errorf("the cleanup rule's --hitcount 2*SEQSUM+1 exceeds %d, the most older kernels accept: the knocks of all bursts must add up to at most %d", maxHitcount, (maxHitcount-1)/2)
	}
	return nil
}

// checkTag accepts "" (meaning INPUT) and up to maxTagLen letters, digits,
// '_' and '-': valid in chain names, recent list names and shell words.
func checkTag(tag string) error {
	if len(tag) > maxTagLen {
		return fmt.Errorf("tag %.20q is longer than %d characters: the chain names would be too long for iptables", tag, maxTagLen)
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("tag %q: character %q is not a letter, digit, '_' or '-'", tag, c)
		}
	}
	return nil
}

// Proto is a packet's transport protocol.
type Proto int

// The protocols the model tells apart.
const (
	UDP Proto = iota + 1
	TCP
	// ICMP (or ICMPv6): the lab's INPUT chain accepts it before the
	// listener.
	ICMP
)

// String returns "udp", "tcp" or "icmp"; iptables' -p takes the first two.
func (p Proto) String() string {
	switch p {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	case ICMP:
		return "icmp"
	}
	return fmt.Sprintf("Proto(%d)", int(p))
}

// RecentOp is the action of a recent match.
type RecentOp int

// The recent match's actions.
const (
	Set RecentOp = iota + 1
	Check
	Remove
)

// Recent is one -m recent match.
type Recent struct {
	Op       RecentOp
	Invert   bool // "!" before --rcheck
	Seconds  int  // 0: any age
	Hitcount int  // 0: none
	// List is the recent list's name (--name).
	List string
	// Mask is the IPv6 prefix length of --mask, 0 for none (all ones).
	// xt_recent keys a list's entries by the source address masked with
	// the mask of the rule that created the list, whatever the mask of
	// later rules: every rule of one list must give the same.
	Mask int
}

// A Rule is one iptables rule of the listener.
type Rule struct {
	Chain   string
	Proto   Proto // 0: any protocol
	DstPort int   // 0: any port
	SYN     bool  // --syn
	Recent  *Recent
	Target  string // ACCEPT, DROP, RETURN or a chain
}

// Chains returns the names of the listener's own chains.
func (s Spec) Chains() (check, reset string) {
	return "CHECKKNOCKS_" + s.tag(), "RESETKNOCKS_" + s.tag()
}

// FailChain returns the name of the chain that records a fail and resets:
// FAILKNOCKS_<Tag>. It exists only with a fail limit.
func (s Spec) FailChain() string { return "FAILKNOCKS_" + s.tag() }

// List returns the name of the listener's recent list of knocks, shared by
// IPv4 and IPv6.
func (s Spec) List() string { return "knocks_" + s.tag() }

// FailList returns the name of the recent list that counts fails for
// family 4 or 6: fails_<Tag> for IPv4, fails<P>_<Tag> for IPv6, P being
// the prefix it counts by. The families have lists of their own because
// xt_recent takes a list's mask from the rule that created it; the prefix
// is in the name because a list lives, with its mask, as long as any rule
// uses it, so that a new prefix must be a new list.
func (s Spec) FailList(family int) string {
	if family == 6 {
		return fmt.Sprintf("fails%d_%s", s.failPrefix6(), s.tag())
	}
	return "fails_" + s.tag()
}

// hasFamilyRules reports whether the IPv4 and IPv6 rules differ (in the
// fail lists' names and masks).
func (s Spec) hasFamilyRules() bool { return s.failLimit() > 0 }

// Rules returns the listener's IPv4 rules (FamilyRules(input, 4)).
func (s Spec) Rules(input string) []Rule { return s.FamilyRules(input, 4) }

// FamilyRules returns the listener's rules for family 4 or 6 in the seed's
// order: those appended to the input chain (named input), then the reset
// chain, then the check chain, then the fail chain. With Seed, for four
// bursts, they are exactly the seed's portKnockListener, the same for both
// families.
//
// The hardened rules differ from the seed's in three places. The check
// chain fails a pattern with more than Sum hits within the bursts' span,
// so that the first burst must be exact as the others are: only the true
// sequence opens. With a fail limit L per P seconds, every fail in the
// check chain goes through the fail chain, which records it in the fail
// list (FailList) before the reset; and the input chain first drops
// knocks and packets to the secure port from a source with L fails or
// more within P. The IPv4 and IPv6 rules differ only in the fail list's
// name and mask. Knocks that overflow the list (the Sum+1 rule of the
// input chain) and packets that meet fewer than Sum hits are no fails:
// they cannot open anything.
func (s Spec) FamilyRules(input string, family int) []Rule {
	check, reset := s.Chains()
	n, sum, w := len(s.Sequence), s.Sequence.Sum(), s.Window
	knocks := s.List()
	rc := func(r Recent) *Recent { r.List = knocks; return &r }
	var rs []Rule
	fail := reset
	limit := s.failLimit()
	if limit > 0 {
		fail = s.FailChain()
		mask := 0
		if family == 6 {
			mask = s.failPrefix6()
		}
		blocked := func() *Recent {
			return &Recent{Op: Check, Seconds: s.failPeriod(), Hitcount: limit, List: s.FailList(family), Mask: mask}
		}
		rs = append(rs, Rule{Chain: input, Proto: UDP, DstPort: s.KnockPort, Recent: blocked(), Target: "DROP"})
		if s.KnockPort != s.SecurePort && !s.DNAT {
			rs = append(rs, Rule{Chain: input, Proto: TCP, DstPort: s.KnockPort, SYN: true, Recent: blocked(), Target: "DROP"})
		}
		// Every TCP packet, not only SYNs: an accepted ACK draws the
		// server's RST, and would tell a good pattern from a bad one
		// without a fail. Established connections are accepted before
		// the listener.
		rs = append(rs, Rule{Chain: input, Proto: TCP, DstPort: s.SecurePort, Recent: blocked(), Target: "DROP"})
	}
	rs = append(rs,
		Rule{Chain: input, Proto: TCP, DstPort: s.SecurePort, Target: check},
		Rule{Chain: input, Recent: rc(Recent{Op: Check, Hitcount: sum + 1, Seconds: n * w}), Target: reset},
		Rule{Chain: input, Recent: rc(Recent{Op: Check, Hitcount: 2*sum + 1}), Target: reset},
		Rule{Chain: input, Proto: UDP, DstPort: s.KnockPort, Recent: rc(Recent{Op: Set}), Target: "DROP"},
		Rule{Chain: input, Proto: TCP, DstPort: s.KnockPort, SYN: true, Recent: rc(Recent{Op: Set}), Target: "DROP"},
		Rule{Chain: reset, Recent: rc(Recent{Op: Remove}), Target: "DROP"},
		Rule{Chain: check, Recent: rc(Recent{Op: Check, Invert: true, Seconds: n * w, Hitcount: sum}), Target: "RETURN"},
	)
	if !s.Seed {
		rs = append(rs, Rule{Chain: check, Recent: rc(Recent{Op: Check, Seconds: n * w, Hitcount: sum + 1}), Target: fail})
	}
	last := 0
	for k := 1; k < n; k++ {
		last += s.Sequence[n-k]
		rs = append(rs,
			Rule{Chain: check, Proto: TCP, DstPort: s.SecurePort, Recent: rc(Recent{Op: Check, Invert: true, Seconds: k * w, Hitcount: last}), Target: fail},
			Rule{Chain: check, Proto: TCP, DstPort: s.SecurePort, Recent: rc(Recent{Op: Check, Seconds: k * w, Hitcount: last + 1}), Target: fail},
		)
	}
	rs = append(rs, Rule{Chain: check, Recent: rc(Recent{Op: Remove}), Target: "ACCEPT"})
	if limit > 0 {
		mask := 0
		if family == 6 {
			mask = s.failPrefix6()
		}
		rs = append(rs, Rule{Chain: fail, Recent: &Recent{Op: Set, List: s.FailList(family), Mask: mask}, Target: reset})
	}
	return rs
}

// maxIfname is IFNAMSIZ less its NUL: the longest interface name.
const maxIfname = 15

// CheckInterface accepts an interface name for the generated rules' -i:
// 1 to 15 characters, as the kernel allows them (dev_valid_name: not "."
// or "..", no '/', ':' or white space), and of those only letters,
// digits, '.', '_', '-' and '@', with iptables' wildcard '+' at the end.
// Anything else would be a shell word or a new line of the rules file.
func CheckInterface(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxIfname {
		return fmt.Errorf("interface name %.20q: want 1 to %d characters, not . or ..", name, maxIfname)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@", c) ||
			c == '+' && i == len(name)-1
		if !ok {
			return fmt.Errorf("interface name %q: character %q is not a letter, digit, '.', '_', '-', '@', or a final '+'", name, c)
		}
	}
	return nil
}
