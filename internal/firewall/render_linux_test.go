package firewall_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/knocker"
)

// randomSpec returns a random spec that Validate accepts, and options for
// it: any length and digits, window, ports, DNAT with or without an
// interface (a wildcard among them), tags up to the longest, the seed's or
// the hardened rules with any fail limit, period and IPv6 prefix, either
// family or both.
func randomSpec(r *rand.Rand) (firewall.Spec, firewall.RestoreOptions) {
	const word = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
	pick := func(chars string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return string(b)
	}
	for {
		seq := make(knocker.Sequence, 1+r.IntN(knocker.MaxBursts))
		for i := range seq {
			seq[i] = 1 + r.IntN(9)
		}
		s := firewall.Spec{
			Sequence:   seq,
			Window:     []int{1, 1 + r.IntN(60), 1 + r.IntN(firewall.MaxFailPeriod/len(seq))}[r.IntN(3)],
			KnockPort:  1 + r.IntN(65535),
			SecurePort: 1 + r.IntN(65535),
			DNAT:       r.IntN(4) == 0,
			Seed:       r.IntN(5) == 0,
		}
		if r.IntN(3) == 0 && !s.DNAT {
			s.SecurePort = s.KnockPort
		}
		if r.IntN(2) == 0 {
			s.Tag = pick(word, 1+r.IntN(16))
		}
		switch r.IntN(4) {
		case 1:
			s.FailLimit = firewall.NoFailLimit
		case 2, 3:
			s.FailLimit = 1 + r.IntN(255)
			s.FailPeriod = 1 + r.IntN(firewall.MaxFailPeriod)
			s.FailPrefix6 = 1 + r.IntN(128)
		}
		o := firewall.RestoreOptions{Families: [][]int{nil, {4}, {6}}[r.IntN(3)], Conntrack: r.IntN(2) == 0}
		if s.DNAT && r.IntN(2) == 0 {
			o.Interface = pick(word+".@", 1+r.IntN(14))
			if r.IntN(2) == 0 {
				o.Interface += "+"
			}
		}
		if s.Validate() == nil && (o.Interface == "" || firewall.CheckInterface(o.Interface) == nil) {
			return s, o
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// families returns the families a restore file is for.
func families(o firewall.RestoreOptions) []int {
	if len(o.Families) == 0 {
		return []int{4, 6}
	}
	return o.Families
}

// restoreIn runs tool (iptables-restore or ip6tables-restore) with args in
// h's namespace, input on its standard input.
func restoreIn(h *lab.Host, input string, tool string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := h.Command(ctx, tool, args...)
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// TestLabRestoreParses: a fixed-seed sample of 300 random valid specs,
// their restore files fed to iptables-restore and ip6tables-restore
// --test --noflush in a lab namespace (iptables' own parser and its
// extensions' option parsing: --test sends nothing to the kernel), in
// batches of 50 files, each failing batch retried file by file to name the
// spec. Then 16 of them, the first few chosen for the DNAT variant with a
// wildcard interface, the seed's rules, IPv6 fails by /128 and the longest
// tag, are loaded for real (the kernel's checks of every match and target)
// and iptables-save's listener chains must be Spec.FamilyRules in order,
// normalized as --install compares them; then removed, leaving the tables
// as they were. Not parallel: its some 150 iptables processes run before
// the package's parallel tests, whose knocks keep real time, start.
func TestLabRestoreParses(t *testing.T) {
	l := lab.New(t, lab.Options{Listener: "none"})
	r := rand.New(rand.NewPCG(10, 6))
	type sample struct {
		spec firewall.Spec
		o    firewall.RestoreOptions
	}
	var all []sample
	for range 300 {
		s, o := randomSpec(r)
		all = append(all, sample{s, o})
	}
	var dnat, seed, both, iface int
	for _, c := range all {
		dnat, seed, both = dnat+b2i(c.spec.DNAT), seed+b2i(c.spec.Seed), both+b2i(len(c.o.Families) == 0)
		iface += b2i(c.o.Interface != "")
	}
	t.Logf("%d specs: %d DNAT (%d with an interface), %d the seed's rules, %d for both families", len(all), dnat, iface, seed, both)
	const batch = 50
	for fam := 4; fam <= 6; fam += 2 {
		tool := map[int]string{4: "iptables-restore", 6: "ip6tables-restore"}[fam]
		var mine []sample // the files for fam: a file for one family is not for the other
		for _, c := range all {
			if slices.Contains(families(c.o), fam) {
				mine = append(mine, c)
			}
		}
		for i := 0; i < len(mine); i += batch {
			var in strings.Builder
			for _, c := range mine[i:min(i+batch, len(mine))] {
				in.WriteString(c.spec.Restore(c.o))
			}
			if restoreIn(l.Server, in.String(), tool, "--test", "--noflush") == nil {
				continue
			}
			for _, c := range mine[i:min(i+batch, len(mine))] {
				if err := restoreIn(l.Server, c.spec.Restore(c.o), tool, "--test", "--noflush"); err != nil {
					t.Errorf("%+v %+v: %v", c.spec, c.o, err)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
		}
	}

	q := func(s string) knocker.Sequence { sq, _ := knocker.ParseSequence(s); return sq }
	load := []sample{
		{firewall.Spec{Sequence: q("3141592"), Window: 1, KnockPort: 443, SecurePort: 22, DNAT: true, Tag: "dnat"}, firewall.RestoreOptions{Interface: "eth+"}},
		{firewall.Spec{Sequence: q("1234"), Window: 3, KnockPort: 443, SecurePort: 443, Seed: true}, firewall.RestoreOptions{}},
		{firewall.Spec{Sequence: q("99"), Window: 2, KnockPort: 22, SecurePort: 22, FailLimit: 255, FailPeriod: firewall.MaxFailPeriod, FailPrefix6: 128, Tag: "p128"}, firewall.RestoreOptions{}},
		{firewall.Spec{Sequence: q("1111111111111111"), Window: 9, KnockPort: 1, SecurePort: 65535, Tag: "abcdefghijklmnop"}, firewall.RestoreOptions{}},
	}
	for _, c := range all {
		if len(load) == 16 {
			break
		}
		c.o.Conntrack = false // the lab's INPUT has the conntrack rule
		load = append(load, c)
	}
	base := saveAll(t, l.Server)
	for _, c := range load {
		text := c.spec.Restore(c.o)
		for _, fam := range families(c.o) {
			tool := map[int]string{4: "iptables-restore", 6: "ip6tables-restore"}[fam]
			if err := restoreIn(l.Server, text, tool, "--noflush"); err != nil {
				t.Fatalf("%+v %+v: %v", c.spec, c.o, err)
			}
			if err := compareLoaded(l.Server, c.spec, c.o, fam); err != nil {
				t.Errorf("%+v %+v: %v", c.spec, c.o, err)
			}
			if err := restoreIn(l.Server, removal(c.spec, fam), tool, "--noflush"); err != nil {
				t.Fatalf("%+v: removing: %v", c.spec, err)
			}
		}
		if now := saveAll(t, l.Server); now != base {
			t.Fatalf("%+v: the tables differ after removal:\n%s\nbefore:\n%s", c.spec, now, base)
		}
	}
}

// savedChains returns iptables-save's rules (without counters) for one
// table by chain, in order, as arguments after "-A CHAIN".
func savedChains(h *lab.Host, fam int, table string) (map[string][][]string, error) {
	tool := map[int]string{4: "iptables-save", 6: "ip6tables-save"}[fam]
	out, err := h.Command(context.Background(), tool, "-t", table).Output()
	if err != nil {
		return nil, fmt.Errorf("%s -t %s: %w", tool, table, err)
	}
	chains := map[string][][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "-A" {
			chains[f[1]] = append(chains[f[1]], f[2:])
		} else if len(f) > 0 && strings.HasPrefix(f[0], ":") {
			chains[f[0][1:]] = [][]string{}
		}
	}
	return chains, nil
}

// saveAll returns both families' rules, every table, without counters
// and comments, and without the tables that hold neither a rule nor a
// chain of their own (loading a DNAT listener creates nat and mangle with
// their built-in chains, and removing it leaves them empty).
func saveAll(t *testing.T, h *lab.Host) string {
	var b strings.Builder
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		for _, block := range strings.SplitAfter(h.Run(t, tool), "COMMIT\n") {
			var lines []string
			used := false
			for _, line := range strings.Split(block, "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					lines = append(lines, line)
					used = used || strings.HasPrefix(line, "-A ") || strings.HasPrefix(line, ":") && strings.Contains(line, " - [")
				}
			}
			if used {
				b.WriteString(strings.Join(lines, "\n") + "\n")
			}
		}
	}
	return b.String()
}

// ownChains returns the filter chains of the spec's listener: the
// listener chain and every chain its rules are in.
func ownChains(s firewall.Spec, fam int) []string {
	cs := []string{s.Listener()}
	for _, r := range s.FamilyRules(s.Listener(), fam) {
		if !slices.Contains(cs, r.Chain) {
			cs = append(cs, r.Chain)
		}
	}
	return cs
}

// compareLoaded requires the loaded listener to be what the spec says:
// each of its filter chains exactly its FamilyRules in order, the jump
// from INPUT the last rule there, and in the DNAT variant the nat and
// mangle rules, all normalized as --install compares them.
func compareLoaded(h *lab.Host, s firewall.Spec, o firewall.RestoreOptions, fam int) error {
	norm := func(rs [][]string) []string {
		var out []string
		for _, r := range rs {
			out = append(out, firewall.Normalize(r))
		}
		return out
	}
	want := map[string][][]string{}
	for _, c := range ownChains(s, fam) {
		want[c] = [][]string{}
	}
	for _, r := range s.FamilyRules(s.Listener(), fam) {
		want[r.Chain] = append(want[r.Chain], r.Args())
	}
	got, err := savedChains(h, fam, "filter")
	if err != nil {
		return err
	}
	for c, rs := range want {
		if g, w := norm(got[c]), norm(rs); !slices.Equal(g, w) {
			return fmt.Errorf("family %d chain %s:\n%s\nwant\n%s", fam, c, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
	if in := got["INPUT"]; len(in) == 0 || firewall.Normalize(in[len(in)-1]) != "-j "+s.Listener() {
		return fmt.Errorf("family %d: INPUT does not end in the jump: %v", fam, in)
	}
	if !s.DNAT {
		return nil
	}
	iface := "! -i lo"
	if o.Interface != "" {
		iface = "-i " + o.Interface
	}
	for table, rule := range map[string]string{
		"mangle": fmt.Sprintf("%s -p tcp --dport %d -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP", iface, s.SecurePort),
		"nat":    fmt.Sprintf("%s -p tcp --dport %d -j DNAT --to-destination :%d", iface, s.KnockPort, s.SecurePort),
	} {
		got, err := savedChains(h, fam, table)
		if err != nil {
			return err
		}
		if g, w := norm(got[s.Listener()]), []string{firewall.Normalize(strings.Fields(rule))}; !slices.Equal(g, w) {
			return fmt.Errorf("family %d %s %s: %q, want %q", fam, table, s.Listener(), g, w)
		}
		if pre := got["PREROUTING"]; len(pre) == 0 || firewall.Normalize(pre[len(pre)-1]) != "-j "+s.Listener() {
			return fmt.Errorf("family %d %s: PREROUTING does not end in the jump: %v", fam, table, pre)
		}
	}
	return nil
}

// removal returns a restore transaction that removes the spec's listener
// for family: the jumps, then its chains.
func removal(s firewall.Spec, fam int) string {
	var b strings.Builder
	tables := map[string][]string{"filter": ownChains(s, fam)}
	if s.DNAT {
		tables["mangle"], tables["nat"] = []string{s.Listener()}, []string{s.Listener()}
	}
	for _, table := range []string{"mangle", "nat", "filter"} {
		cs, ok := tables[table]
		if !ok {
			continue
		}
		hook := map[bool]string{true: "INPUT", false: "PREROUTING"}[table == "filter"]
		fmt.Fprintf(&b, "*%s\n-D %s -j %s\n", table, hook, s.Listener())
		for _, c := range cs {
			b.WriteString("-F " + c + "\n")
		}
		for _, c := range cs {
			b.WriteString("-X " + c + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}
