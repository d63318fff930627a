package firewall

import (
	"strconv"
	"strings"
)

// Args returns r as iptables arguments after "-A CHAIN", with the recent
// list named list.
func (r Rule) Args(list string) []string {
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
		a = append(a, "--name", list)
	}
	return append(a, "-j", r.Target)
}

// Shell returns the listener as shell commands in the seed's style, for a
// script that sets $IPTABLES (iptables or ip6tables): create the two chains,
// then append every rule, the input chain's to input.
func (s Spec) Shell(input string) string {
	check, reset := s.Chains()
	var b strings.Builder
	b.WriteString("$IPTABLES -N " + check + "\n$IPTABLES -N " + reset + "\n")
	for _, r := range s.Rules(input) {
		b.WriteString("$IPTABLES -A " + r.Chain + " " + strings.Join(r.Args(s.List()), " ") + "\n")
	}
	return b.String()
}
