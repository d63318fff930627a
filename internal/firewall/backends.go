package firewall

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// knockssh installs with the iptables backend that "iptables" is
// (iptables-nft or iptables-legacy). Other packet filters see the same
// packets: the other backend's tables and native nftables base chains
// (nftables.service, firewalld) hook into the same netfilter hooks. A
// packet must pass every one of them: an accept ends only its own base
// chain, and evaluation goes on in the next base chain of the hook, while
// a drop ends everything (nft(8), "OVERALL EVALUATION OF THE RULESET").
// So their accepts never bypass the listener's INPUT, but their drops
// (a rule, or a drop policy) stop connections the knock opened, and
// knocks they drop before iptables sees them never count. otherFilters
// says what it finds, and what it means, in warnings.

// iptablesTables are the tables iptables-nft keeps in the ip and ip6
// families of nftables: its own, not native chains.
var iptablesTables = []string{"filter", "nat", "mangle", "raw", "security"}

// backend returns family's iptables backend, "nf_tables" or "legacy", as
// "iptables -V" says; "" when it does not say (iptables before 1.8 is
// legacy only).
func (in *Installer) backend(ctx context.Context, family int) string {
	out, err := in.runner().Run(ctx, nil, command(family, "iptables"), "-V")
	if err != nil {
		return ""
	}
	switch v := string(out); {
	case strings.Contains(v, "(nf_tables)"):
		return "nf_tables"
	case strings.Contains(v, "(legacy)"):
		return "legacy"
	}
	return ""
}

// legacyTablesPresent reports whether family's legacy iptables has tables
// in this network namespace; iptables-legacy-save is only run then.
func legacyTablesPresent(family int) bool {
	name := "/proc/net/ip_tables_names"
	if family == 6 {
		name = "/proc/net/ip6_tables_names"
	}
	b, err := os.ReadFile(name)
	return err == nil && len(strings.TrimSpace(string(b))) > 0
}

// otherBackend returns warnings about the INPUT chain of family's other
// iptables backend.
func (in *Installer) otherBackend(ctx context.Context, family int) []string {
	var tool, other string
	switch in.backend(ctx, family) {
	case "nf_tables":
		present := in.legacyTables
		if present == nil {
			present = legacyTablesPresent
		}
		if !present(family) {
			return nil
		}
		tool, other = command(family, "iptables")+"-nft", command(family, "iptables")+"-legacy"
	case "legacy":
		tool, other = command(family, "iptables")+"-legacy", command(family, "iptables")+"-nft"
	default:
		return nil
	}
	out, err := in.runner().Run(ctx, nil, other+"-save", "-t", "filter")
	if err != nil {
		return nil // not installed, or no such table
	}
	tables, err := parseSave(out)
	if err != nil || tables["filter"] == nil {
		return nil
	}
	t := tables["filter"]
	input := t.chainRules("INPUT")
	n := len(input)
	policy := t.policy["INPUT"]
	if n == 0 && policy == "ACCEPT" {
		return nil
	}
	port := in.Spec.SecurePort
	found := fmt.Sprintf("%s: the other iptables backend has rules too: its INPUT has %d rule(s), policy %s (knockssh installs with %s, the backend \"%s\" is; see them with %s-save)",
		other, n, policy, tool, command(family, "iptables"), other)
	drops := false
	for _, r := range input {
		if target, _ := ruleTarget(r.args); target == "DROP" || target == "REJECT" {
			drops = true
		}
	}
	switch e := walkInput(t, port, nil, false); {
	case e.closed:
		return []string{found + fmt.Sprintf(": it drops new connections to port %d for everyone, and a packet must pass both backends' INPUT, so a knock cannot open the port; accept the port there or delete those rules", port)}
	case drops:
		return []string{found + fmt.Sprintf(": a packet must pass both backends' INPUT: its drops stop connections to port %d that a knock opened, for the packets they match, and knocks it drops never count", port)}
	}
	return []string{found + fmt.Sprintf(": it accepts port %d, which does not bypass the listener (a packet must pass both backends' INPUT; an accept ends only its own chain)", port)}
}

// nftChain and nftRule are what "nft -j list ruleset" says of a chain and
// a rule.
type nftChain struct {
	Family string          `json:"family"`
	Table  string          `json:"table"`
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Hook   string          `json:"hook"`
	Prio   json.RawMessage `json:"prio"`
	Policy string          `json:"policy"`
	rules  []nftRule
}

type nftRule struct {
	Family string                       `json:"family"`
	Table  string                       `json:"table"`
	Chain  string                       `json:"chain"`
	Expr   []map[string]json.RawMessage `json:"expr"`
}

// parseNftInput returns the native base chains of type filter on the
// input hook in "nft -j list ruleset" output, with their rules: those not
// in iptables-nft's own tables.
func parseNftInput(data []byte) ([]*nftChain, error) {
	var rs struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("nft -j list ruleset: %w", err)
	}
	var chains []*nftChain
	byName := map[string]*nftChain{}
	key := func(family, table, name string) string { return family + " " + table + " " + name }
	for _, o := range rs.Nftables {
		if raw, ok := o["chain"]; ok {
			var c nftChain
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("nft -j list ruleset: %w", err)
			}
			if c.Type != "filter" || c.Hook != "input" || (c.Family == "ip" || c.Family == "ip6") && slices.Contains(iptablesTables, c.Table) {
				continue
			}
			chains = append(chains, &c)
			byName[key(c.Family, c.Table, c.Name)] = &c
		}
		if raw, ok := o["rule"]; ok {
			var r nftRule
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("nft -j list ruleset: %w", err)
			}
			if c := byName[key(r.Family, r.Table, r.Chain)]; c != nil {
				c.rules = append(c.rules, r)
			}
		}
	}
	return chains, nil
}

// verdict returns the rule's accept, drop or reject; "" for others.
func (r nftRule) verdict() string {
	for _, e := range r.Expr {
		for _, v := range []string{"accept", "drop", "reject"} {
			if _, ok := e[v]; ok {
				return v
			}
		}
	}
	return ""
}

// matchesPort reports whether the rule has a "tcp dport" match that port
// meets (a value, a set of values and ranges, or a range).
func (r nftRule) matchesPort(port int) bool {
	for _, e := range r.Expr {
		raw, ok := e["match"]
		if !ok {
			continue
		}
		var m struct {
			Op   string `json:"op"`
			Left struct {
				Payload struct {
					Protocol string `json:"protocol"`
					Field    string `json:"field"`
				} `json:"payload"`
			} `json:"left"`
			Right json.RawMessage `json:"right"`
		}
		if json.Unmarshal(raw, &m) != nil || m.Left.Payload.Protocol != "tcp" || m.Left.Payload.Field != "dport" || m.Op != "==" && m.Op != "in" {
			continue
		}
		if nftHas(m.Right, port) {
			return true
		}
	}
	return false
}

// nftHas reports whether the JSON value v (a number, {"set": [...]} or
// {"range": [a, b]}) contains port.
func nftHas(v json.RawMessage, port int) bool {
	var n int
	if json.Unmarshal(v, &n) == nil {
		return n == port
	}
	var o struct {
		Set   []json.RawMessage `json:"set"`
		Range []int             `json:"range"`
	}
	if json.Unmarshal(v, &o) != nil {
		return false
	}
	if len(o.Range) == 2 && o.Range[0] <= port && port <= o.Range[1] {
		return true
	}
	for _, e := range o.Set {
		if nftHas(e, port) {
			return true
		}
	}
	return false
}

// nftWarnings describes chains, native input chains, and what they mean
// for the listener on port (the secure port) with knocks on knockPort.
func nftWarnings(chains []*nftChain, port, knockPort int) []string {
	var ws []string
	for _, c := range chains {
		drops, accepts := 0, false
		for _, r := range c.rules {
			switch r.verdict() {
			case "drop", "reject":
				drops++
			case "accept":
				accepts = accepts || r.matchesPort(port)
			}
		}
		found := fmt.Sprintf("nft: native nftables chain %s %s %s (type filter hook input priority %s, policy %s, %d rule(s), %d of them drop or reject) filters this host's packets besides iptables",
			c.Family, c.Table, c.Name, string(c.Prio), c.Policy, len(c.rules), drops)
		var meaning string
		switch {
		case c.Policy == "drop" && !accepts:
			ports := fmt.Sprintf("port %d", port)
			if knockPort != port {
				ports = fmt.Sprintf("ports %d and %d (knocks it drops before iptables sees them never count)", port, knockPort)
			}
			meaning = fmt.Sprintf("its policy drops what it does not accept, and no rule of it accepts tcp port %d: a packet must pass every input chain, so connections a knock opens are dropped there; accept %s in it (the knock still guards the port: an accept ends only its own chain, and iptables' INPUT still drops what the listener does not accept)", port, ports)
		case accepts:
			meaning = fmt.Sprintf("it accepts tcp port %d, which does not bypass the listener: an accept ends only its own chain, and a packet must pass iptables' INPUT too", port)
		default:
			meaning = "its accepts do not bypass the listener (an accept ends only its own chain, and a packet must pass iptables' INPUT too); its drops stop connections a knock opened, for the packets they match"
		}
		ws = append(ws, found+": "+meaning)
	}
	return ws
}

// nativeNft returns warnings about native nftables input chains, nil
// when nft is not installed or there are none.
func (in *Installer) nativeNft(ctx context.Context) []string {
	out, err := in.runner().Run(ctx, nil, "nft", "-j", "list", "ruleset")
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		return nil
	}
	chains, err := parseNftInput(out)
	if err != nil {
		return []string{err.Error()}
	}
	return nftWarnings(chains, in.Spec.SecurePort, in.Spec.KnockPort)
}
