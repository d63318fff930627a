package firewall_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
)

// nsRunner runs the iptables tools in a lab namespace; after the first
// transaction (install's) it runs meanwhile and then fails, as a check
// after loading would.
type nsRunner struct {
	h         *lab.Host
	meanwhile func()
	failed    bool
}

func (r *nsRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := r.h.Command(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(name + ": " + err.Error() + ": " + stderr.String())
	}
	if strings.HasSuffix(name, "-restore") && !r.failed {
		r.failed = true
		r.meanwhile()
		return out, errors.New("forced failure after loading")
	}
	return out, nil
}

// filterState returns the server's iptables-save of every table without
// comments and counters.
func filterState(t *testing.T, l *lab.Lab, cmd string) string {
	t.Helper()
	counters := regexp.MustCompile(`^\[\d+:\d+\] | \[\d+:\d+\]$`)
	var b strings.Builder
	for _, line := range strings.Split(l.Server.Run(t, cmd), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			b.WriteString(counters.ReplaceAllString(line, "") + "\n")
		}
	}
	return b.String()
}

// TestRollbackKeepsForeignRules: an install whose transaction loads, after
// which fail2ban (here: a rule inserted at the top of INPUT, and a chain of
// its own) changes the firewall, and which then fails, is rolled back to
// the firewall as it was plus fail2ban's changes: the listener's part only
// is undone. The same for an uninstall, whose rollback puts the listener
// back, its jump after the rule it followed.
func TestRollbackKeepsForeignRules(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Listener: ":"})
	spec := firewall.Spec{Sequence: []int{1, 2, 3, 4}, Window: 1, KnockPort: 22, SecurePort: 22, Tag: "RB"}
	fail2ban := func(n int) func() {
		return func() {
			chain := "f2b-" + string(rune('a'+n))
			l.Server.Run(t, "iptables", "-N", chain)
			l.Server.Run(t, "iptables", "-A", chain, "-s", "203.0.113.9", "-j", "REJECT")
			l.Server.Run(t, "iptables", "-I", "INPUT", "1", "-p", "tcp", "--dport", "22", "-j", chain)
		}
	}
	for i, remove := range []bool{false, true} {
		if remove {
			in := &firewall.Installer{Spec: spec, Families: []int{4}, Runner: &nsRunner{h: l.Server, failed: true}}
			cs, err := in.Plan(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if err := in.Apply(context.Background(), cs, false); err != nil {
				t.Fatal(err)
			}
		}
		before := filterState(t, l, "iptables-save")
		in := &firewall.Installer{Spec: spec, Families: []int{4}, Runner: &nsRunner{h: l.Server, meanwhile: fail2ban(i)}}
		cs, err := in.Plan(context.Background(), remove)
		if err != nil {
			t.Fatal(err)
		}
		err = in.Apply(context.Background(), cs, remove)
		if err == nil || !strings.Contains(err.Error(), "forced failure after loading (rolled back") {
			t.Fatalf("remove=%v: Apply: %v", remove, err)
		}
		// What fail2ban did, on the state before.
		after := filterState(t, l, "iptables-save")
		chain := "f2b-" + string(rune('a'+i))
		if !strings.Contains(after, "-A INPUT -p tcp -m tcp --dport 22 -j "+chain+"\n") || !strings.Contains(after, "-A "+chain+" -s 203.0.113.9/32 -j REJECT") {
			t.Errorf("remove=%v: fail2ban's rules are gone after the rollback:\n%s", remove, after)
		}
		stripped := strings.NewReplacer("-A INPUT -p tcp -m tcp --dport 22 -j "+chain+"\n", "", ":"+chain+" -\n", "", "-A "+chain+" -s 203.0.113.9/32 -j REJECT --reject-with icmp-port-unreachable\n", "").Replace(after)
		if stripped != before {
			t.Errorf("remove=%v: after the rollback, without fail2ban's rules:\n%s\nwant, as before:\n%s", remove, stripped, before)
		}
	}
}
