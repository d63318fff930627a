package firewall

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestWalkInput: what INPUT, as iptables-save prints it, does with a new
// TCP connection to port 22 from an outsider: a table of rule sets, each
// with the listener's jump where the install puts it.
func TestWalkInput(t *testing.T) {
	const jump = "-A INPUT -j KNOCKS_INPUT\n"
	base := "-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	for _, tt := range []struct {
		name   string
		policy string
		rules  string
		drops  bool // knock port = secure port: the listener drops the SYN
		err    string
		warn   string // a warning's tail; "" for none
	}{
		{name: "lab base", policy: "DROP", rules: base + jump},
		{name: "policy ACCEPT, knock port = secure port", policy: "ACCEPT", rules: base + jump, drops: true},
		{name: "policy ACCEPT", policy: "ACCEPT", rules: base + jump, err: "INPUT's policy is ACCEPT"},
		{name: "policy ACCEPT, final DROP", policy: "ACCEPT", rules: base + jump + "-A INPUT -j DROP\n"},
		{name: "policy ACCEPT, final REJECT for the port", policy: "ACCEPT", rules: base + jump + "-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset\n"},
		{name: "policy ACCEPT, final DROP for another port", policy: "ACCEPT", rules: base + jump + "-A INPUT -p tcp -m tcp --dport 23 -j DROP\n", err: "policy is ACCEPT"},
		{name: "policy ACCEPT, source-restricted DROP", policy: "ACCEPT", rules: base + jump + "-A INPUT -s 10.0.0.0/8 -j DROP\n", err: "policy is ACCEPT"},
		{name: "earlier ACCEPT for the port", policy: "DROP", rules: base + "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n" + jump, drops: true, err: `"-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT" accepts new connections to port 22 from anywhere`},
		{name: "accept everything", policy: "DROP", rules: base + "-A INPUT -j ACCEPT\n" + jump, err: `"-A INPUT -j ACCEPT"`},
		{name: "accept all TCP", policy: "DROP", rules: "-A INPUT -p tcp -j ACCEPT\n" + base + jump, err: `"-A INPUT -p tcp -j ACCEPT"`},
		{name: "accept a port range", policy: "DROP", rules: base + "-A INPUT -p tcp -m tcp --dport 20:30 -j ACCEPT\n" + jump, err: "dport 20:30"},
		{name: "accept multiport", policy: "DROP", rules: base + "-A INPUT -p tcp -m multiport --dports 80,443,22 -j ACCEPT\n" + jump, err: "multiport"},
		{name: "accept NEW with a comment", policy: "DROP", rules: base + "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment \"ssh for all\" -j ACCEPT\n" + jump, err: "ssh for all"},
		{name: "accept SYN by flags, rate limited", policy: "DROP", rules: base + "-A INPUT -p tcp -m tcp --dport 22 --tcp-flags FIN,SYN,RST,ACK SYN -m limit --limit 3/min -j ACCEPT\n" + jump, err: "limit"},
		{name: "later ACCEPT, knock port = secure port", policy: "DROP", rules: base + jump + "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", drops: true},
		{name: "later ACCEPT, other knock port", policy: "DROP", rules: base + jump + "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", err: "from anywhere"},
		{name: "ACCEPT in a user chain", policy: "DROP", rules: base + "-A INPUT -p tcp -j OPEN\n-A OPEN -m tcp --dport 22 -j ACCEPT\n" + jump, err: "(in OPEN, reached from INPUT)"},
		{name: "user chain returns first", policy: "DROP", rules: base + "-A INPUT -p tcp -j OPEN\n-A OPEN -j RETURN\n-A OPEN -m tcp --dport 22 -j ACCEPT\n" + jump},
		{name: "fail2ban's chain", policy: "DROP", rules: base + "-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd\n-A f2b-sshd -s 203.0.113.9/32 -j REJECT --reject-with icmp-port-unreachable\n-A f2b-sshd -j RETURN\n" + jump},
		{name: "from a source", policy: "DROP", rules: base + "-A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\n" + jump, warn: "without a knock from 198.51.100.0/24"},
		{name: "from a source, via a chain", policy: "DROP", rules: base + "-A INPUT -s 198.51.100.7/32 -j TRUSTED\n-A TRUSTED -j ACCEPT\n" + jump, warn: "from 198.51.100.7/32"},
		{name: "on an interface", policy: "DROP", rules: base + "-A INPUT -i eth1 -j ACCEPT\n" + jump, warn: "without a knock on interface eth1"},
		{name: "from an ipset", policy: "DROP", rules: base + "-A INPUT -m set --match-set trusted src -j ACCEPT\n" + jump, warn: "from the addresses in set trusted"},
		{name: "unknown match", policy: "DROP", rules: base + "-A INPUT -p tcp -m tcp --dport 22 -m recent --rcheck --seconds 4 --hitcount 10 --name other --mask 255.255.255.255 --rsource -j ACCEPT\n" + jump,
			warn: `"-A INPUT -p tcp -m tcp --dport 22 -m recent --rcheck --seconds N --hitcount N --name other --mask 255.255.255.255 --rsource -j ACCEPT" accepts new connections to port 22 without a knock when -m recent matches`},
		{name: "not from anywhere but one", policy: "DROP", rules: base + "-A INPUT ! -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT\n" + jump, err: "from anywhere"},
		{name: "source-restricted then unrestricted", policy: "DROP", rules: base + "-A INPUT -s 198.51.100.7/32 -j ACCEPT\n-A INPUT -p tcp -j ACCEPT\n" + jump, err: `"-A INPUT -p tcp -j ACCEPT"`, warn: "from 198.51.100.7/32"},
		{name: "no match: other ports, protocols, states", policy: "DROP", rules: base +
			"-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n-A INPUT -p udp -m udp --dport 22 -j ACCEPT\n-A INPUT -p icmp -j ACCEPT\n" +
			"-A INPUT -p tcp -m tcp ! --dport 22 -j ACCEPT\n-A INPUT -p tcp -m tcp ! --syn -j ACCEPT\n-A INPUT -m state --state ESTABLISHED -j ACCEPT\n" +
			"-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j ACCEPT\n-A INPUT -f -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 80,1000:2000 -j ACCEPT\n" + jump},
		{name: "dropped before the port's ACCEPT", policy: "DROP", rules: base + "-A INPUT -p tcp -m tcp --dport 22 -j DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n" + jump},
		{name: "LOG goes on", policy: "DROP", rules: base + "-A INPUT -j LOG --log-prefix \"in: \"\n-A INPUT -p tcp -j ACCEPT\n" + jump, err: "-p tcp -j ACCEPT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			save := "*filter\n:INPUT " + tt.policy + " [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KNOCKS_INPUT - [0:0]\n:OPEN - [0:0]\n:TRUSTED - [0:0]\n:f2b-sshd - [0:0]\n" + tt.rules + "COMMIT\n"
			tables, err := parseSave([]byte(save))
			if err != nil {
				t.Fatal(err)
			}
			e := walkInput(tables["filter"], 22, []string{"KNOCKS_INPUT", "CHECKKNOCKS_INPUT"}, tt.drops)
			err = e.check(4)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
			ws := strings.Join(e.warnings(4), "\n")
			if tt.warn == "" && ws != "" || !strings.Contains(ws, tt.warn) {
				t.Errorf("warnings %q, want %q", ws, tt.warn)
			}
			var h interface{ Hint() string }
			if err != nil && (!errors.As(err, &h) || h.Hint() == "") {
				t.Errorf("%v has no hint", err)
			}
		})
	}
}

// TestPlanRefusesUnprotected: Plan refuses an install that would leave the
// secure port open and plans one that only some sources bypass, with the
// warning; uninstall does not care.
func TestPlanRefusesUnprotected(t *testing.T) {
	other := spec1234
	other.KnockPort = 443 // the listener leaves unknocked SYNs to 22 alone
	open := strings.Replace(baseSave, ":INPUT DROP [10:600]", ":INPUT ACCEPT [10:600]", 1)
	early := strings.Replace(baseSave, "COMMIT", "[9:540] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT", 1)
	trusted := strings.Replace(baseSave, "COMMIT", "-A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT", 1)
	for _, tt := range []struct {
		save string
		spec Spec
		err  string
		hint string
		warn string
	}{
		{save: open, spec: other, err: "INPUT's policy is ACCEPT", hint: "iptables -P INPUT DROP"},
		{save: open, spec: spec1234}, // the one-port listener drops unknocked SYNs itself
		{save: early, spec: spec1234, err: `"-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT" accepts`, hint: "delete that rule"},
		{save: strings.Replace(installedSave, "[0:0] -A INPUT -j KNOCKS_INPUT\n", "[0:0] -A INPUT -p tcp -j ACCEPT\n[0:0] -A INPUT -j KNOCKS_INPUT\n", 1), spec: spec1234, err: "-p tcp -j ACCEPT"},
		{save: trusted, spec: spec1234, warn: "iptables: \"-A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\" accepts new connections to port 22 without a knock from 198.51.100.0/24"},
	} {
		in := &Installer{Spec: tt.spec, Families: []int{4}, Runner: &fakeRunner{save: tt.save}}
		cs, err := in.Plan(context.Background(), false)
		if tt.err != "" {
			var h interface{ Hint() string }
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &h) || !strings.Contains(h.Hint(), tt.hint) {
				t.Errorf("Plan: %v, want %q with hint %q", err, tt.err, tt.hint)
			}
			if _, err := in.Plan(context.Background(), true); err != nil {
				t.Errorf("uninstall refused: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Plan: %v", err)
			continue
		}
		if w := strings.Join(cs[0].Warnings, "\n"); w != tt.warn {
			t.Errorf("warnings %q, want %q", w, tt.warn)
		}
	}
}

// TestApplyChecksLoaded: when the rules as loaded let the port in (a rule
// added meanwhile), Apply fails with the reason and rolls back.
func TestApplyChecksLoaded(t *testing.T) {
	f := &fakeRunner{save: baseSave}
	in := &Installer{Spec: spec1234, Families: []int{4}, Runner: f}
	cs, err := in.Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	f.onRestore = func(string) error { // loads; meanwhile someone accepts everything
		if strings.Contains(f.save, "KNOCKS_INPUT") {
			f.save = strings.Replace(baseSave, "COMMIT", "-A INPUT -j ACCEPT\nCOMMIT", 1)
		} else {
			f.save = strings.Replace(installedSave, "[0:0] -A INPUT -j KNOCKS_INPUT\n", "-A INPUT -j ACCEPT\n[0:0] -A INPUT -j KNOCKS_INPUT\n", 1)
		}
		return nil
	}
	err = in.Apply(context.Background(), cs, false)
	if err == nil || !strings.Contains(err.Error(), `"-A INPUT -j ACCEPT" accepts new connections to port 22 from anywhere`) || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("Apply: %v", err)
	}
}

// TestUninstallClosedNote: uninstalling under a DROP policy, with nothing
// else accepting the secure port, says the port is then closed to
// everyone; not when some rule still accepts it, nor under policy ACCEPT.
func TestUninstallClosedNote(t *testing.T) {
	const note = "iptables: without the listener nothing in INPUT accepts new connections to port 22: the secure port is now closed to everyone (established sessions stay)"
	for _, tt := range []struct {
		name, save string
		want       bool
	}{
		{"policy DROP", installedSave, true},
		{"final DROP", strings.Replace(strings.Replace(installedSave, ":INPUT DROP", ":INPUT ACCEPT", 1), "[0:0] -A INPUT -j KNOCKS_INPUT\n", "[0:0] -A INPUT -j KNOCKS_INPUT\n-A INPUT -j REJECT --reject-with icmp-port-unreachable\n", 1), true},
		{"policy ACCEPT", strings.Replace(installedSave, ":INPUT DROP", ":INPUT ACCEPT", 1), false},
		{"accepted from a source", strings.Replace(installedSave, "[0:0] -A INPUT -j KNOCKS_INPUT\n", "[0:0] -A INPUT -j KNOCKS_INPUT\n-A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\n", 1), false},
		{"not installed", baseSave, false},
	} {
		notes := strings.Join(plan(t, tt.save, spec1234, true).Notes, "\n")
		if got := strings.Contains(notes, note); got != tt.want {
			t.Errorf("%s: notes %q, want the note %v", tt.name, notes, tt.want)
		}
	}
	// The port is the installed listener's, whatever the spec says.
	other := spec1234
	other.SecurePort, other.KnockPort = 443, 443
	if notes := strings.Join(plan(t, installedSave, other, true).Notes, "\n"); !strings.Contains(notes, "port 22:") {
		t.Errorf("notes %q name another port than the listener's", notes)
	}
}
