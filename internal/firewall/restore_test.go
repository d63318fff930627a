package firewall

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestRestoreExampleInSync keeps configs/server-rules.restore equal to what
// Spec.Restore generates for its parameters.
func TestRestoreExampleInSync(t *testing.T) {
	data, err := os.ReadFile("../../configs/server-rules.restore")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Sequence: []int{1, 2, 3, 4}, Window: 3, KnockPort: 443, SecurePort: 443}
	if want := spec.Restore(RestoreOptions{}); string(data) != want {
		t.Errorf("configs/server-rules.restore is stale; want:\n%s", want)
	}
	data, err = os.ReadFile("../../configs/server-rules-seed.restore")
	if err != nil {
		t.Fatal(err)
	}
	spec.Seed = true
	if want := spec.Restore(RestoreOptions{}); string(data) != want {
		t.Errorf("configs/server-rules-seed.restore is stale; want:\n%s", want)
	}
}

// TestRestoreDNAT checks the DNAT variant's extra tables and its comment.
func TestRestoreDNAT(t *testing.T) {
	spec := Spec{Sequence: []int{1, 2, 3, 4}, Window: 3, KnockPort: 443, SecurePort: 22, DNAT: true}
	r := spec.Restore(RestoreOptions{Families: []int{6}})
	for _, want := range []string{
		"*mangle\n:KNOCKS_INPUT - [0:0]\n-A PREROUTING -j KNOCKS_INPUT\n-A KNOCKS_INPUT ! -i lo -p tcp --dport 22 -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP\nCOMMIT\n",
		"*nat\n:KNOCKS_INPUT - [0:0]\n-A PREROUTING -j KNOCKS_INPUT\n-A KNOCKS_INPUT ! -i lo -p tcp --dport 443 -j DNAT --to-destination :22\nCOMMIT\n",
		"Only UDP knocks count",
		"#   ip6tables-restore --noflush < FILE\n",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("DNAT restore lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "#   iptables-restore") {
		t.Errorf("family 6 restore mentions iptables-restore:\n%s", r)
	}
	if r := spec.Restore(RestoreOptions{Interface: "eth1"}); !strings.Contains(r, "-A KNOCKS_INPUT -i eth1 -p tcp --dport 443 -j DNAT") {
		t.Errorf("--interface not used in the DNAT rule:\n%s", r)
	}
	// Five bursts: the generalization reaches the restore form.
	five := Spec{Sequence: []int{1, 1, 1, 1, 1}, Window: 2, KnockPort: 22, SecurePort: 22}
	if r := five.Restore(RestoreOptions{}); !strings.Contains(r, "--seconds 8 --hitcount 4 --name knocks_INPUT -j FAILKNOCKS_INPUT") {
		t.Errorf("five bursts: no check of the last four:\n%s", r)
	}
}

// TestCheckKernel covers the xt_recent limits: new kernels size their
// rings; old ones refuse a --hitcount above ip_pkt_list_tot (default 20),
// and the error says what to do without revealing the sequence.
func TestCheckKernel(t *testing.T) {
	seed := Spec{Sequence: []int{1, 2, 3, 4}, Window: 3, KnockPort: 22, SecurePort: 22} // max hitcount 21
	small := Spec{Sequence: []int{1, 2, 3}, Window: 3, KnockPort: 22, SecurePort: 22}   // max hitcount 13
	for _, c := range []struct {
		spec Spec
		k    Kernel
		ok   bool
	}{
		{seed, Kernel{Release: "6.18.44-fc", PktListTot: 0}, true},
		{seed, Kernel{Release: "6.1.0-28-amd64", PktListTot: -1}, true},
		{seed, Kernel{Release: "4.10.0", PktListTot: 20}, true},
		{seed, Kernel{Release: "4.9.0-19-amd64", PktListTot: 20}, false},
		{seed, Kernel{Release: "4.9.0", PktListTot: -1}, false},
		{seed, Kernel{Release: "3.10.0-1160.el7.x86_64", PktListTot: 255}, true},
		{seed, Kernel{Release: "3.10.0", PktListTot: 21}, true},
		{small, Kernel{Release: "3.10.0", PktListTot: -1}, true},
		{seed, Kernel{Release: "weird", PktListTot: 20}, true},
	} {
		err := c.spec.CheckKernel(c.k)
		if (err == nil) != c.ok {
			t.Errorf("%+v: err %v, want ok=%v", c.k, err, c.ok)
			continue
		}
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, modprobeOption) || !strings.Contains(msg, "/etc/modprobe.d") {
				t.Errorf("%+v: the error does not say what to do: %s", c.k, msg)
			}
			if strings.Contains(msg, "1234") || strings.Contains(msg, " 10") || strings.Contains(msg, "21") {
				t.Errorf("%+v: the error reveals the sequence: %s", c.k, msg)
			}
		}
	}
}

// TestCheckListPerms: who besides root may read /proc/net/xt_recent.
func TestCheckListPerms(t *testing.T) {
	for _, c := range []struct {
		perms, uid, gid int
		who             string // "" for no leak
	}{
		{-1, 0, 0, ""},
		{0o644, 0, 0, "every local user"},
		{0o600, 0, 0, ""},
		{0o640, 0, 0, ""},
		{0o640, 0, 4, "group 4"},
		{0o600, 1000, 0, "user 1000"},
		{0o440, 1000, 27, "user 1000 and group 27"},
		{0o400, 0, 27, ""},
	} {
		err := Kernel{ListPerms: c.perms, ListUID: c.uid, ListGID: c.gid}.CheckListPerms()
		var e *ListPermsError
		switch {
		case c.who == "" && err != nil:
			t.Errorf("%04o uid %d gid %d: %v, want no leak", c.perms, c.uid, c.gid, err)
		case c.who != "" && (!errors.As(err, &e) || !strings.Contains(err.Error(), "readable by "+c.who+" (") || !strings.Contains(e.Hint(), "ip_list_perms=0600")):
			t.Errorf("%04o uid %d gid %d: %v, want readable by %s and the fix", c.perms, c.uid, c.gid, err, c.who)
		}
	}
}

// TestCheckListTot: fewer sources per list than recommended is a warning
// whose fix is the same modprobe.d line as ip_list_perms'.
func TestCheckListTot(t *testing.T) {
	for _, c := range []struct {
		tot  int
		warn bool
	}{{-1, false}, {100, true}, {16383, true}, {16384, false}, {65536, false}} {
		err := Kernel{ListTot: c.tot}.CheckListTot()
		var e *ListTotError
		if (err != nil) != c.warn || err != nil && (!errors.As(err, &e) || !strings.Contains(e.Hint(), "ip_list_perms=0600 ip_list_uid=0 ip_list_gid=0 ip_list_tot=16384")) {
			t.Errorf("ip_list_tot %d: %v", c.tot, err)
		}
	}
}
