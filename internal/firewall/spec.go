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
	// Tag names the chains (CHECKKNOCKS_<Tag>, RESETKNOCKS_<Tag>) and the
	// recent list (knocks_<Tag>); the seed uses the input chain's name.
	Tag string
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
	if uint64(s.Window)*uint64(len(s.Sequence)) > math.MaxUint32 {
		return fmt.Errorf("window %d s: the bursts span more seconds than --seconds holds (32 bits)", s.Window)
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

// List returns the name of the listener's recent list.
func (s Spec) List() string { return "knocks_" + s.tag() }

// Rules returns the listener's rules in the seed's order: those appended to
// the input chain (named input), then the reset chain, then the check chain.
// For four bursts they are exactly the seed's portKnockListener.
func (s Spec) Rules(input string) []Rule {
	check, reset := s.Chains()
	n, sum, w := len(s.Sequence), s.Sequence.Sum(), s.Window
	rs := []Rule{
		{Chain: input, Proto: TCP, DstPort: s.SecurePort, Target: check},
		{Chain: input, Recent: &Recent{Op: Check, Hitcount: sum + 1, Seconds: n * w}, Target: reset},
		{Chain: input, Recent: &Recent{Op: Check, Hitcount: 2*sum + 1}, Target: reset},
		{Chain: input, Proto: UDP, DstPort: s.KnockPort, Recent: &Recent{Op: Set}, Target: "DROP"},
		{Chain: input, Proto: TCP, DstPort: s.KnockPort, SYN: true, Recent: &Recent{Op: Set}, Target: "DROP"},
		{Chain: reset, Recent: &Recent{Op: Remove}, Target: "DROP"},
		{Chain: check, Recent: &Recent{Op: Check, Invert: true, Seconds: n * w, Hitcount: sum}, Target: "RETURN"},
	}
	last := 0
	for k := 1; k < n; k++ {
		last += s.Sequence[n-k]
		rs = append(rs,
			Rule{Chain: check, Proto: TCP, DstPort: s.SecurePort, Recent: &Recent{Op: Check, Invert: true, Seconds: k * w, Hitcount: last}, Target: reset},
			Rule{Chain: check, Proto: TCP, DstPort: s.SecurePort, Recent: &Recent{Op: Check, Seconds: k * w, Hitcount: last + 1}, Target: reset},
		)
	}
	return append(rs, Rule{Chain: check, Recent: &Recent{Op: Remove}, Target: "ACCEPT"})
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
