package firewall

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The restore form of the listener: what knockssh --rules prints and
// knockssh --install loads. Unlike the seed's function, which appends its
// five input rules to the input chain itself, it keeps them in a chain of
// their own, Listener(), that the input chain reaches by a single jump rule:
// the verdicts are the same (a packet that falls through the listener chain
// returns to the next rule of INPUT, as it falls through the seed's five
// rules), and installing, updating and removing the listener touch only the
// listener's chains and that one jump.

// Listener returns the name of the chain that holds the rules the seed
// appends to the input chain: KNOCKS_<Tag>. The DNAT variant's nat and
// mangle chains have the same name.
func (s Spec) Listener() string { return "KNOCKS_" + s.tag() }

// owned returns the names of the chains the listener owns in table
// ("filter", "nat" or "mangle"); nil when the table has none.
func (s Spec) owned(table string) []string {
	switch table {
	case "filter":
		check, reset := s.Chains()
		if s.failLimit() > 0 {
			return []string{s.Listener(), check, reset, s.FailChain()}
		}
		return []string{s.Listener(), check, reset}
	case "nat", "mangle":
		if s.DNAT {
			return []string{s.Listener()}
		}
	}
	return nil
}

// tableOrder are the tables a listener may use, in the order restore files list
// them.
var tableOrder = []string{"mangle", "nat", "filter"}

// hook returns the built-in chain of table that jumps to the listener:
// INPUT for filter, PREROUTING for nat and mangle.
func hook(table string) string {
	if table == "filter" {
		return "INPUT"
	}
	return "PREROUTING"
}

// tableRules returns the rules of the listener's own chains in table for
// family 4 or 6, each as iptables arguments after "-A CHAIN" (the chain is
// the first element), without the jump from the hook. in is the interface
// the DNAT rules match ("" for every interface but the loopback). With
// family 0 the rules are for both families: a rule that differs between
// them comes twice, as "-4" and "-6" rules, which ip6tables-restore and
// iptables-restore respectively skip.
func (s Spec) tableRules(table, in string, family int) [][]string {
	iface := []string{"!", "-i", "lo"}
	if in != "" {
		iface = []string{"-i", in}
	}
	l := s.Listener()
	switch {
	case table == "filter":
		var out [][]string
		if family != 0 {
			for _, r := range s.FamilyRules(l, family) {
				out = append(out, append([]string{r.Chain}, r.Args()...))
			}
			return out
		}
		r6 := s.FamilyRules(l, 6)
		for i, r := range s.FamilyRules(l, 4) {
			a4, a6 := r.Args(), r6[i].Args()
			if slices.Equal(a4, a6) {
				out = append(out, append([]string{r.Chain}, a4...))
				continue
			}
			out = append(out, append([]string{r.Chain, "-4"}, a4...), append([]string{r.Chain, "-6"}, a6...))
		}
		return out
	case table == "mangle" && s.DNAT:
		// New TCP connections straight to the secure port are dropped (the
		// seed drops them in nat PREROUTING, which kernels no longer allow);
		// established ones, such as a session open before the install,
		// pass.
		return [][]string{append(append([]string{l}, iface...),
			"-p", "tcp", "--dport", strconv.Itoa(s.SecurePort), "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", "-j", "DROP")}
	case table == "nat" && s.DNAT:
		// No address: only the port changes, so the rule is the same for
		// IPv4 and IPv6.
		return [][]string{append(append([]string{l}, iface...),
			"-p", "tcp", "--dport", strconv.Itoa(s.KnockPort), "-j", "DNAT", "--to-destination", ":"+strconv.Itoa(s.SecurePort))}
	}
	return nil
}

// jumpArgs returns the jump rule from table's hook to the listener, as
// arguments after "-A".
func (s Spec) jumpArgs(table string) []string {
	return []string{hook(table), "-j", s.Listener()}
}

// conntrackArgs is the rule that must precede the listener in INPUT so that
// established connections (the operator's SSH session among them) never run
// through the knock chains, as arguments after "-A" or "-I".
var conntrackArgs = []string{"INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"}

// RestoreOptions tune Spec.Restore.
type RestoreOptions struct {
	// Families are the address families the file is for: 4, 6 or both.
	// For both, the rules that differ by family (the fail lists') are
	// written twice, with -4 and -6.
	Families []int
	// Interface restricts the DNAT variant's nat and mangle rules to one
	// interface; "" means every interface but the loopback.
	Interface string
	// Conntrack adds the ESTABLISHED,RELATED accept rule at the top of
	// INPUT.
	Conntrack bool
}

// Restore returns the listener as an iptables-restore file for
// "iptables-restore --noflush" (and ip6tables-restore): per table one
// transaction that creates (or empties) the listener's chains, fills them
// and appends the jump from the hook. The file encodes the sequence in its
// --hitcount values.
func (s Spec) Restore(o RestoreOptions) string {
	var b strings.Builder
	b.WriteString(s.header(o, "restore"))
	for _, table := range tableOrder {
		owned := s.owned(table)
		if owned == nil {
			continue
		}
		b.WriteString("*" + table + "\n")
		for _, c := range owned {
			b.WriteString(":" + c + " - [0:0]\n")
		}
		if table == "filter" && o.Conntrack {
			b.WriteString("-I " + strings.Join(conntrackArgs, " ") + "\n")
		}
		b.WriteString("-A " + strings.Join(s.jumpArgs(table), " ") + "\n")
		fam := 0
		if fs := families(o.Families); len(fs) == 1 {
			fam = fs[0]
		}
		for _, r := range s.tableRules(table, o.Interface, fam) {
			b.WriteString("-A " + strings.Join(r, " ") + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// ShellFunction returns the listener as a shell script in the seed's style:
// a portKnockListener function that creates the chains and appends the
// rules with $IPTABLES, its input rules appended to the chain named by its
// argument as the seed's are, called for iptables and/or ip6tables.
func (s Spec) ShellFunction(o RestoreOptions) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString(s.header(o, "shell"))
	b.WriteString("set -e\nportKnockListener()\n{\n")
	for _, line := range strings.Split(strings.TrimSuffix(s.shell("$1", o.Families), "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	for _, table := range []string{"mangle", "nat"} {
		for _, r := range s.tableRules(table, o.Interface, 4) { // the same for IPv6
			fmt.Fprintf(&b, "  $IPTABLES -t %s -A PREROUTING %s\n", table, strings.Join(r[1:], " "))
		}
	}
	b.WriteString("}\n")
	for _, f := range families(o.Families) {
		fmt.Fprintf(&b, "IPTABLES=%s portKnockListener INPUT\n", command(f, "iptables"))
	}
	return b.String()
}

func families(fs []int) []int {
	if len(fs) == 0 {
		return []int{4, 6}
	}
	return fs
}

// command returns the iptables tool name for family 4 or 6: iptables,
// iptables-save, ... or ip6tables, ip6tables-save, ...
func command(family int, name string) string {
	if family == 6 {
		return "ip6" + strings.TrimPrefix(name, "ip")
	}
	return name
}

// header returns the comment block at the top of the rules: what they are,
// how to load them and, in the DNAT variant, why only UDP knocks count.
func (s Spec) header(o RestoreOptions, format string) string {
	var b strings.Builder
	secure := ""
	if s.SecurePort != s.KnockPort {
		secure = fmt.Sprintf(", secure port %d", s.SecurePort)
	}
	fmt.Fprintf(&b, "# Open Sesamy knock listener generated by knockssh: tag %s, knock port %d%s,\n", s.tag(), s.KnockPort, secure)
	fmt.Fprintf(&b, "# window %d s, %d bursts. The --hitcount values encode the knock sequence:\n", s.Window, len(s.Sequence))
	b.WriteString("# keep this file as secret as the sequence.\n")
	if s.Seed {
		b.WriteString("# The seed's portKnockListener rules, verbatim.\n")
	} else if l, p, _ := s.FailLimits(); l > 0 {
		fmt.Fprintf(&b, "# Hardened rules: a source with %d failed patterns within %s is dropped\n", l, period(p))
		fmt.Fprintf(&b, "# until they age out (fail lists %s, %s).\n", s.FailList(4), s.FailList(6))
		if s.KnockPort == s.SecurePort {
			b.WriteString("# On one port a client's connection attempts are knocks too: after a lost\n")
			b.WriteString("# knock they make a failed pattern (in knockssh's Monte Carlo, 0.05 to 0.36\n")
			b.WriteString("# fails per login at 1% to 10% loss, up to 1.6 with TCP knocks and more\n")
			b.WriteString("# bursts). A knock port other than the secure port has none.\n")
		}
	} else {
		b.WriteString("# Hardened rules, without a fail limit.\n")
	}
	b.WriteString(s.Figures())
	fs := families(o.Families)
	if format == "restore" {
		b.WriteString("# Load as root, once, with\n")
		for _, f := range fs {
			fmt.Fprintf(&b, "#   %s --noflush < FILE\n", command(f, "iptables-restore"))
		}
		b.WriteString("# or let \"knockssh --install\" load it: idempotent, and it keeps established\n")
		b.WriteString("# sessions open.\n")
	}
	if !o.Conntrack {
		b.WriteString("# INPUT must accept established connections before the listener\n")
		b.WriteString("# (-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT) and drop by policy.\n")
	}
	if s.DNAT {
		fmt.Fprintf(&b, "# DNAT variant: TCP to port %d is DNAT'ed to port %d, new TCP connections\n", s.KnockPort, s.SecurePort)
		fmt.Fprintf(&b, "# straight to port %d are dropped. Only UDP knocks count: a TCP SYN to the\n", s.SecurePort)
		fmt.Fprintf(&b, "# knock port is rewritten to port %d before the filter table sees it, so it\n", s.SecurePort)
		b.WriteString("# is a connection attempt, never a knock.\n")
	}
	return b.String()
}
