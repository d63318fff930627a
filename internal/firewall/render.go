package firewall

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Args returns r as iptables arguments after "-A CHAIN".
func (r Rule) Args() []string {
	return r.args(func(rc *Recent) []string { return rc.nameArgs() })
}

// args returns r's arguments with name giving the recent match's --name
// and --mask, in the order iptables-save prints them.
func (r Rule) args(name func(*Recent) []string) []string {
	var a []string
	if r.Proto != 0 {
		a = append(a, "-p", r.Proto.String())
	}
	if r.SYN {
		a = append(a, "--syn")
	}
	if r.DstPort != 0 {
		a = append(a, "--dport", strconv.Itoa(r.DstPort))
	}
	if rc := r.Recent; rc != nil {
		a = append(a, "-m", "recent")
		if rc.Invert {
			a = append(a, "!")
		}
		switch rc.Op {
		case Set:
			a = append(a, "--set")
		case Check:
			a = append(a, "--rcheck")
		case Remove:
			a = append(a, "--remove")
		}
		if rc.Seconds != 0 {
			a = append(a, "--seconds", strconv.Itoa(rc.Seconds))
		}
		if rc.Hitcount != 0 {
			a = append(a, "--hitcount", strconv.Itoa(rc.Hitcount))
		}
		a = append(a, name(rc)...)
	}
	return append(a, "-j", r.Target)
}

// nameArgs returns --name and, with a mask, --mask.
func (rc *Recent) nameArgs() []string {
	a := []string{"--name", rc.List}
	if rc.Mask != 0 && rc.Mask != 128 {
		a = append(a, "--mask", mask6(rc.Mask))
	}
	return a
}

// mask6 returns the IPv6 netmask of a prefix length, as ip6tables-save
// prints it: ffff:ffff:ffff:ffff:: for 64.
func mask6(bits int) string {
	var b [16]byte
	for i := range b {
		switch {
		case bits >= 8*(i+1):
			b[i] = 0xff
		case bits > 8*i:
			b[i] = byte(0xff << (8*(i+1) - bits))
		}
	}
	return netip.AddrFrom16(b).String()
}

// shellFails is the variable that holds, in the shell form, the fail
// list's --name and --mask for the family of $IPTABLES.
const shellFails = "KNOCKSSH_FAILS"

// Shell returns the listener as shell commands in the seed's style, for a
// script that sets $IPTABLES (iptables or ip6tables): create the chains,
// then append every rule, the input chain's to input. Where the families'
// rules differ (the fail list), a first line sets $KNOCKSSH_FAILS for the
// family of $IPTABLES.
func (s Spec) Shell(input string) string { return s.shell(input, nil) }

// shell is Shell for the given families (nil for both): for one, the
// line sets $KNOCKSSH_FAILS for it alone.
func (s Spec) shell(input string, fams []int) string {
	var b strings.Builder
	r4, r6 := s.FamilyRules(input, 4), s.FamilyRules(input, 6)
	if s.hasFamilyRules() {
		f4 := shellFails + "=\"" + strings.Join((&Recent{List: s.FailList(4)}).nameArgs(), " ") + "\""
		f6 := shellFails + "=\"" + strings.Join((&Recent{List: s.FailList(6), Mask: s.failPrefix6()}).nameArgs(), " ") + "\""
		switch {
		case slices.Equal(fams, []int{4}):
			b.WriteString(f4 + "\n")
		case slices.Equal(fams, []int{6}):
			b.WriteString(f6 + "\n")
		default:
			b.WriteString("case $IPTABLES in *ip6tables*) " + f6 + " ;; *) " + f4 + " ;; esac\n")
		}
	}
	for _, c := range s.owned("filter")[1:] {
		b.WriteString("$IPTABLES -N " + c + "\n")
	}
	for i, r := range r4 {
		a := r.Args()
		if !slices.Equal(a, r6[i].Args()) {
			a = r.args(func(*Recent) []string { return []string{"$" + shellFails} })
		}
		b.WriteString("$IPTABLES -A " + r.Chain + " " + strings.Join(a, " ") + "\n")
	}
	return b.String()
}
