package firewall

import (
	"context"
	"strings"
	"testing"
)

// nftJSON is "nft -j list ruleset" with iptables-nft's own filter table,
// a native inet input chain (policy drop, accepting 22 and a set), a
// native ip6 one (policy accept, one drop), and a prerouting chain.
const nftJSON = `{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
{"table": {"family": "ip", "name": "filter", "handle": 1}},
{"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
{"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"xt": {"type": "match", "name": "recent"}}, {"drop": null}]}},
{"table": {"family": "inet", "name": "filter", "handle": 2}},
{"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [443, {"range": [1000, 2000]}]}}}, {"accept": null}]}},
{"table": {"family": "ip6", "name": "fw", "handle": 3}},
{"chain": {"family": "ip6", "table": "fw", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}},
{"rule": {"family": "ip6", "table": "fw", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "2001:db8::9"}}, {"drop": null}]}},
{"chain": {"family": "ip6", "table": "fw", "name": "pre", "handle": 3, "type": "filter", "hook": "prerouting", "prio": 0, "policy": "drop"}}
]}`

// TestNftWarnings: the native input chains and what each means, for
// secure ports the inet chain accepts (443, 1500) and one it does not (22).
func TestNftWarnings(t *testing.T) {
	chains, err := parseNftInput([]byte(nftJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 2 || chains[0].Name != "input" || len(chains[0].rules) != 2 || chains[1].Name != "in" || len(chains[1].rules) != 1 {
		t.Fatalf("chains %+v", chains)
	}
	for _, tt := range []struct {
		port, knock int
		want        []string
	}{
		{22, 22, []string{
			"nft: native nftables chain inet filter input (type filter hook input priority 0, policy drop, 2 rule(s), 0 of them drop or reject) filters this host's packets besides iptables: its policy drops what it does not accept, and no rule of it accepts tcp port 22: a packet must pass every input chain, so connections a knock opens are dropped there; accept port 22 in it",
			"nft: native nftables chain ip6 fw in (type filter hook input priority -10, policy accept, 1 rule(s), 1 of them drop or reject) filters this host's packets besides iptables: its accepts do not bypass the listener",
		}},
		{22, 443, []string{"accept ports 22 and 443 (knocks it drops before iptables sees them never count)"}},
		{443, 443, []string{"policy drop, 2 rule(s), 0 of them drop or reject) filters this host's packets besides iptables: it accepts tcp port 443, which does not bypass the listener"}},
		{1500, 1500, []string{"it accepts tcp port 1500"}},
	} {
		ws := nftWarnings(chains, tt.port, tt.knock)
		if len(ws) != 2 {
			t.Errorf("port %d: %d warnings: %q", tt.port, len(ws), ws)
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(ws[i], w) {
				t.Errorf("port %d: warning %d\n%s\nwant it to contain\n%s", tt.port, i, ws[i], w)
			}
		}
	}
	if _, err := parseNftInput([]byte("{")); err == nil {
		t.Error("broken JSON parsed")
	}
}

// TestOtherBackend: with iptables-nft in use and legacy tables present,
// Plan warns about the legacy INPUT's rules, by what they do to port 22;
// without legacy tables, or with an empty INPUT, it says nothing.
func TestOtherBackend(t *testing.T) {
	legacy := func(policy, rules string) string {
		return "*filter\n:INPUT " + policy + " [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + rules + "COMMIT\n"
	}
	for _, tt := range []struct {
		name    string
		present bool
		save    string
		want    string
	}{
		{"no legacy tables", false, legacy("DROP", ""), ""},
		{"empty", true, legacy("ACCEPT", ""), ""},
		{"drops the port", true, legacy("ACCEPT", "-A INPUT -p tcp -m tcp --dport 22 -j DROP\n"),
			`iptables-legacy: the other iptables backend has rules too: its INPUT has 1 rule(s), policy ACCEPT (knockssh installs with iptables-nft, the backend "iptables" is; see them with iptables-legacy-save): it drops new connections to port 22 for everyone, and a packet must pass both backends' INPUT, so a knock cannot open the port`},
		{"policy DROP", true, legacy("DROP", ""), "it drops new connections to port 22 for everyone"},
		{"accepts the port", true, legacy("DROP", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"), "it accepts port 22, which does not bypass the listener"},
		{"drops some", true, legacy("ACCEPT", "-A INPUT -s 203.0.113.9/32 -j DROP\n"), "its drops stop connections to port 22 that a knock opened"},
	} {
		f := &fakeRunner{save: baseSave, other: map[string]string{
			"iptables -V":                    "iptables v1.8.9 (nf_tables)\n",
			"iptables-legacy-save -t filter": tt.save,
		}}
		in := &Installer{Spec: spec1234, Families: []int{4}, Runner: f, legacyTables: func(int) bool { return tt.present }}
		cs, err := in.Plan(context.Background(), false)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		ws := strings.Join(cs[0].Warnings, "\n")
		if tt.want == "" && ws != "" || !strings.Contains(ws, tt.want) {
			t.Errorf("%s: warnings %q, want %q", tt.name, ws, tt.want)
		}
	}
}
