package firewall

import (
	"strings"
	"testing"
)

func TestCheckInterface(t *testing.T) {
	for _, good := range []string{"eth0", "eth0.100", "wlp2s0", "br-3f2a", "veth@if3", "ppp+", "a", "abcdefghijklmno"} {
		if err := CheckInterface(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "abcdefghijklmnop", "eth0; touch x #", "eth0\n-A INPUT -j ACCEPT", "a/b", "a:b", "a b", "e+th", "eth0$(id)", "é"} {
		if err := CheckInterface(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzCheckInterface: a name CheckInterface accepts never carries a shell
// or rules-file metacharacter into the generated rules.
func FuzzCheckInterface(f *testing.F) {
	for _, s := range []string{"eth0", "eth0; touch x #", "ppp+", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckInterface(name) != nil {
			return
		}
		s := Spec{Sequence: []int{1, 2, 3, 4}, Window: 1, KnockPort: 443, SecurePort: 22, DNAT: true}
		for _, out := range []string{s.Restore(RestoreOptions{Interface: name}), s.ShellFunction(RestoreOptions{Interface: name})} {
			if strings.ContainsAny(name, " \t\n;&|$`'\"\\<>(){}*?#") || !strings.Contains(out, "-i "+name+" ") {
				t.Fatalf("accepted %q, rendered:\n%s", name, out)
			}
		}
	})
}
