package firewall

import (
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/knockssh/knockssh/knocker"
)

// The renderer's fuzz target and the strict parsers it reads the rendered
// rules back with. The parsers are independent of Rule.Args: they know
// every option the listener's rules may use, accept nothing else, and turn
// the text back into Rules, so that "parses back to exactly the rules
// intended" compares structures, not strings.

// metachars are the characters that mean something to sh or to
// iptables-restore's line splitter (quotes, comments, escapes); none may
// reach a rule line from the input.
const metachars = " \t\r\n;&|$`'\"\\<>(){}[]*?#~=%^"

// parseRuleArgs parses the arguments of one filter rule of the listener
// (after "-A CHAIN") into a Rule.
func parseRuleArgs(chain string, a []string) (Rule, error) {
	r := Rule{Chain: chain}
	seen := map[string]bool{}
	num := func(i int) (int, error) {
		if i >= len(a) {
			return 0, fmt.Errorf("%s without a value", a[i-1])
		}
		n, err := strconv.Atoi(a[i])
		if err != nil || n <= 0 || strconv.Itoa(n) != a[i] {
			return 0, fmt.Errorf("%s %q is not a canonical positive number", a[i-1], a[i])
		}
		return n, nil
	}
	invert := false
	for i := 0; i < len(a); i++ {
		opt := a[i]
		if opt != "!" {
			if seen[opt] {
				return r, fmt.Errorf("%s twice", opt)
			}
			seen[opt] = true
		}
		if invert && opt != "--rcheck" {
			return r, fmt.Errorf("! before %s", opt)
		}
		recent := r.Recent != nil
		var err error
		switch {
		case opt == "-p" && i+1 < len(a) && r.Recent == nil:
			i++
			switch a[i] {
			case "tcp":
				r.Proto = TCP
			case "udp":
				r.Proto = UDP
			default:
				return r, fmt.Errorf("protocol %q", a[i])
			}
		case opt == "--syn" && r.Proto == TCP && !recent:
			r.SYN = true
		case opt == "--dport" && r.Proto != 0 && !recent:
			i++
			r.DstPort, err = num(i)
			if err == nil && r.DstPort > 65535 {
				err = fmt.Errorf("port %d", r.DstPort)
			}
		case opt == "-m" && i+1 < len(a) && a[i+1] == "recent" && !recent:
			i++
			r.Recent = &Recent{}
		case opt == "!" && recent && r.Recent.Op == 0 && !invert:
			invert = true
		case (opt == "--set" || opt == "--rcheck" || opt == "--remove") && recent && r.Recent.Op == 0:
			r.Recent.Op = map[string]RecentOp{"--set": Set, "--rcheck": Check, "--remove": Remove}[opt]
			r.Recent.Invert, invert = invert, false
		case opt == "--seconds" && recent && r.Recent.Op == Check:
			i++
			r.Recent.Seconds, err = num(i)
		case opt == "--hitcount" && recent && r.Recent.Op == Check:
			i++
			r.Recent.Hitcount, err = num(i)
		case opt == "--name" && recent && i+1 < len(a):
			i++
			r.Recent.List = a[i]
		case opt == "--mask" && recent && i+1 < len(a):
			i++
			r.Recent.Mask, err = prefixLen(a[i])
		case opt == "-j" && i+1 == len(a)-1:
			i++
			r.Target = a[i]
		default:
			return r, fmt.Errorf("unexpected %q", opt)
		}
		if err != nil {
			return r, err
		}
	}
	switch {
	case r.Target == "":
		return r, fmt.Errorf("no target")
	case r.Recent != nil && (r.Recent.Op == 0 || r.Recent.List == ""):
		return r, fmt.Errorf("recent match without an action or a name")
	}
	return r, nil
}

// prefixLen returns the prefix length of an IPv6 netmask, which must be
// contiguous and not all ones (the renderer leaves that out).
func prefixLen(mask string) (int, error) {
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is6() || a.Is4In6() || a.String() != mask {
		return 0, fmt.Errorf("mask %q is not a canonical IPv6 netmask", mask)
	}
	b := a.As16()
	n := 0
	for n < 128 && b[n/8]&(0x80>>(n%8)) != 0 {
		n++
	}
	if n == 0 || n == 128 || netip.PrefixFrom(a, n).Masked().Addr() != a {
		return 0, fmt.Errorf("mask %q is not a contiguous netmask shorter than /128", mask)
	}
	return n, nil
}

// wantRules returns the rules the listener is meant to have for family,
// with the input rules in chain input: FamilyRules, with Mask 128 written
// as 0 (both mean all ones, and the renderer leaves such a --mask out).
func wantRules(s Spec, input string, family int) []Rule {
	rs := s.FamilyRules(input, family)
	for i, r := range rs {
		if r.Recent != nil && r.Recent.Mask == 128 {
			rc := *r.Recent
			rc.Mask = 0
			rs[i].Recent = &rc
		}
	}
	return rs
}

// wantDNAT returns the DNAT variant's mangle and nat rules as tokens after
// "-A CHAIN", stated here independently of tableRules.
func wantDNAT(s Spec, iface, table string) []string {
	in := []string{"!", "-i", "lo"}
	if iface != "" {
		in = []string{"-i", iface}
	}
	if table == "mangle" {
		return append(in, strings.Fields(fmt.Sprintf("-p tcp --dport %d -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP", s.SecurePort))...)
	}
	return append(in, strings.Fields(fmt.Sprintf("-p tcp --dport %d -j DNAT --to-destination :%d", s.KnockPort, s.SecurePort))...)
}

// restoreTable is one table of a parsed restore file, for one family.
type restoreTable struct {
	name    string
	chains  []string   // declared, ":NAME - [0:0]"
	inserts [][]string // "-I CHAIN ...", the chain first
	rules   [][]string // "-A CHAIN ...", the chain first, the family's only
}

// parseRestoreFile parses a restore file strictly, as iptables-restore
// (family 4) or ip6tables-restore (6) reads it: comments before the first
// table, then tables of chain declarations and rules closed by COMMIT, and
// nothing else. Rules marked -4 or -6 are kept for their family only.
func parseRestoreFile(text string, family int) ([]restoreTable, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("no final newline")
	}
	var tables []restoreTable
	var cur *restoreTable
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		bad := func(why string) error { return fmt.Errorf("line %d %q: %s", n+1, line, why) }
		if strings.HasPrefix(line, "#") {
			if len(tables) > 0 {
				return nil, bad("comment after the first table")
			}
			continue
		}
		body := strings.TrimPrefix(line, "*")
		if strings.HasPrefix(body, ":") {
			body = strings.TrimSuffix(body, " - [0:0]")
		}
		if strings.ContainsAny(body, metachars[1:]) || strings.Contains(line, "  ") || strings.HasSuffix(line, " ") {
			return nil, bad("metacharacter or stray blank in a rule line")
		}
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "*"):
			if cur != nil {
				return nil, bad("table inside a table")
			}
			tables = append(tables, restoreTable{name: line[1:]})
			cur = &tables[len(tables)-1]
		case cur == nil:
			return nil, bad("outside a table")
		case line == "COMMIT":
			cur = nil
		case len(f) == 3 && strings.HasPrefix(f[0], ":") && f[1] == "-" && f[2] == "[0:0]":
			if len(cur.rules)+len(cur.inserts) > 0 {
				return nil, bad("chain declared after rules")
			}
			cur.chains = append(cur.chains, f[0][1:])
		case len(f) >= 3 && (f[0] == "-A" || f[0] == "-I"):
			args := f[1:]
			if args[1] == "-4" || args[1] == "-6" {
				if args[1] != "-"+strconv.Itoa(family) {
					continue
				}
				args = slices.Delete(slices.Clone(args), 1, 2)
			}
			if f[0] == "-I" {
				cur.inserts = append(cur.inserts, args)
			} else {
				cur.rules = append(cur.rules, args)
			}
		default:
			return nil, bad("not a restore line")
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("the file ends inside table %s", cur.name)
	}
	return tables, nil
}

// checkRestore requires the restore file to hold, for family, exactly the
// listener the spec means: its tables in order, the chains it owns, the
// jumps, the conntrack rule when asked, and FamilyRules.
func checkRestore(s Spec, o RestoreOptions, text string, family int) error {
	tables, err := parseRestoreFile(text, family)
	if err != nil {
		return err
	}
	l := s.Listener()
	var names []string
	for _, t := range tables {
		names = append(names, t.name)
	}
	wantNames := []string{"filter"}
	if s.DNAT {
		wantNames = []string{"mangle", "nat", "filter"}
	}
	if !slices.Equal(names, wantNames) {
		return fmt.Errorf("tables %v, want %v", names, wantNames)
	}
	for _, t := range tables {
		if t.name != "filter" {
			if !slices.Equal(t.chains, []string{l}) || len(t.inserts) != 0 || len(t.rules) != 2 ||
				!slices.Equal(t.rules[0], []string{"PREROUTING", "-j", l}) ||
				t.rules[1][0] != l || !slices.Equal(t.rules[1][1:], wantDNAT(s, o.Interface, t.name)) {
				return fmt.Errorf("table %s: chains %v, inserts %v, rules %v", t.name, t.chains, t.inserts, t.rules)
			}
			continue
		}
		want := wantRules(s, l, family)
		chains := []string{l}
		for _, r := range want {
			if !slices.Contains(chains, r.Chain) {
				chains = append(chains, r.Chain)
			}
		}
		if got, w := slices.Sorted(slices.Values(t.chains)), slices.Sorted(slices.Values(chains)); !slices.Equal(got, w) {
			return fmt.Errorf("filter chains %v, want %v", got, w)
		}
		var wantIns [][]string
		if o.Conntrack {
			wantIns = [][]string{conntrackWant}
		}
		if !reflect.DeepEqual(t.inserts, wantIns) {
			return fmt.Errorf("filter inserts %v, want %v", t.inserts, wantIns)
		}
		if len(t.rules) == 0 || !slices.Equal(t.rules[0], []string{"INPUT", "-j", l}) {
			return fmt.Errorf("filter: no jump from INPUT first: %v", t.rules)
		}
		var got []Rule
		for _, a := range t.rules[1:] {
			r, err := parseRuleArgs(a[0], a[1:])
			if err != nil {
				return fmt.Errorf("rule %q: %w", strings.Join(a, " "), err)
			}
			got = append(got, r)
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("family %d: the rules parse back as\n%s\nwant\n%s", family, dumpRules(got), dumpRules(want))
		}
	}
	return nil
}

var conntrackWant = strings.Fields("INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")

func dumpRules(rs []Rule) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %+v", r)
		if r.Recent != nil {
			fmt.Fprintf(&b, " %+v", *r.Recent)
		}
		b.WriteString("\n")
	}
	return b.String()
}

var (
	caseLine   = regexp.MustCompile(`^  case \$IPTABLES in \*ip6tables\*\) ` + shellFails + `="([^"]*)" ;; \*\) ` + shellFails + `="([^"]*)" ;; esac$`)
	assignLine = regexp.MustCompile(`^  ` + shellFails + `="([^"]*)"$`)
	callLine   = regexp.MustCompile(`^IPTABLES=(iptables|ip6tables) portKnockListener INPUT$`)
)

// checkShell requires the shell function to be, for every family it is
// called for, exactly the listener the spec means, with nothing in it a
// shell would read as more than words: the seed's function with the input
// rules appended to $1 (INPUT), $KNOCKSSH_FAILS set per family.
func checkShell(s Spec, o RestoreOptions, text string) error {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if !strings.HasSuffix(text, "\n") || len(lines) < 5 || lines[0] != "#!/bin/sh" {
		return fmt.Errorf("no #!/bin/sh script")
	}
	i := 1
	for i < len(lines) && strings.HasPrefix(lines[i], "#") {
		i++
	}
	if !slices.Equal(lines[i:min(i+3, len(lines))], []string{"set -e", "portKnockListener()", "{"}) {
		return fmt.Errorf("line %d: no function after the comments", i+1)
	}
	i += 3
	var body []string
	for i < len(lines) && lines[i] != "}" {
		body = append(body, lines[i])
		i++
	}
	if i == len(lines) {
		return fmt.Errorf("the function is not closed")
	}
	var fams []int
	for _, c := range lines[i+1:] {
		m := callLine.FindStringSubmatch(c)
		if m == nil {
			return fmt.Errorf("unexpected line after the function: %q", c)
		}
		fams = append(fams, map[string]int{"iptables": 4, "ip6tables": 6}[m[1]])
	}
	if !slices.Equal(fams, families(o.Families)) {
		return fmt.Errorf("called for families %v, want %v", fams, families(o.Families))
	}
	fails := map[int]string{}
	if len(body) > 0 {
		if m := caseLine.FindStringSubmatch(body[0]); m != nil {
			fails[6], fails[4] = m[1], m[2]
			body = body[1:]
		} else if m := assignLine.FindStringSubmatch(body[0]); m != nil {
			if len(fams) != 1 {
				return fmt.Errorf("one %s for both families", shellFails)
			}
			fails[fams[0]] = m[1]
			body = body[1:]
		}
	}
	for _, v := range fails {
		if strings.ContainsAny(v, metachars[1:]) {
			return fmt.Errorf("%s=%q holds a metacharacter", shellFails, v)
		}
	}
	for _, f := range fams {
		var created []string
		var rules []Rule
		dnat := map[string][]string{}
		for _, line := range body {
			w, ok := strings.CutPrefix(line, "  $IPTABLES ")
			if !ok || strings.Contains(w, "  ") || strings.HasSuffix(w, " ") {
				return fmt.Errorf("unexpected line %q", line)
			}
			var args []string
			for _, a := range strings.Split(w, " ") {
				switch {
				case a == "$"+shellFails:
					v, ok := fails[f]
					if !ok {
						return fmt.Errorf("$%s unset for family %d in %q", shellFails, f, line)
					}
					args = append(args, strings.Fields(v)...)
				case a == "$1":
					args = append(args, "INPUT")
				case strings.ContainsAny(a, metachars):
					return fmt.Errorf("word %q of %q holds a metacharacter", a, line)
				default:
					args = append(args, a)
				}
			}
			switch {
			case len(args) == 2 && args[0] == "-N":
				created = append(created, args[1])
			case len(args) > 4 && args[0] == "-t" && args[2] == "-A" && args[3] == "PREROUTING" && (args[1] == "mangle" || args[1] == "nat"):
				if dnat[args[1]] != nil {
					return fmt.Errorf("two %s rules", args[1])
				}
				dnat[args[1]] = args[4:]
			case len(args) > 2 && args[0] == "-A" && len(dnat) == 0:
				r, err := parseRuleArgs(args[1], args[2:])
				if err != nil {
					return fmt.Errorf("rule %q: %w", line, err)
				}
				rules = append(rules, r)
			default:
				return fmt.Errorf("unexpected line %q", line)
			}
		}
		want := wantRules(s, "INPUT", f)
		if !reflect.DeepEqual(rules, want) {
			return fmt.Errorf("shell, family %d: the rules parse back as\n%s\nwant\n%s", f, dumpRules(rules), dumpRules(want))
		}
		var chains []string
		for _, r := range want {
			if r.Chain != "INPUT" && !slices.Contains(chains, r.Chain) {
				chains = append(chains, r.Chain)
			}
		}
		if got, w := slices.Sorted(slices.Values(created)), slices.Sorted(slices.Values(chains)); !slices.Equal(got, w) {
			return fmt.Errorf("shell creates chains %v, want %v", got, w)
		}
		wantDN := map[string][]string{}
		if s.DNAT {
			wantDN = map[string][]string{"mangle": wantDNAT(s, o.Interface, "mangle"), "nat": wantDNAT(s, o.Interface, "nat")}
		}
		if !reflect.DeepEqual(dnat, wantDN) {
			return fmt.Errorf("shell's PREROUTING rules %v, want %v", dnat, wantDN)
		}
	}
	return nil
}

// leaks reports whether msg shows the sequence: its digits (0 to 9, as
// typed), or the sum of valid ones, as a number of its own, unless the
// same number is one of the spec's public values (the tag among them) or
// a constant of the messages.
func leaks(msg string, s Spec) bool {
	digits := "" // no digits to show when a burst is not one
	for _, d := range s.Sequence {
		if d < 0 || d > 9 {
			digits = ""
			break
		}
		digits += strconv.Itoa(d)
	}
	public := map[string]bool{}
	for _, n := range []int{s.Window, s.KnockPort, s.SecurePort, s.FailLimit, s.FailPeriod, s.FailPrefix6, len(s.Sequence),
		1, 4, 6, 9, 32, 128, 65535, maxHitcount, // 4 and 6 of IPv4, IPv6
		(maxHitcount - 1) / 2, maxTagLen, MaxFailPeriod, knocker.MaxBursts} {
		public[strconv.Itoa(n)] = true
	}
	// The tag is public, and errors quote it and its characters.
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, fmt.Sprintf("%q", s.Tag), ""), fmt.Sprintf("%.20q", s.Tag), "")
	for _, c := range s.Tag {
		msg = strings.ReplaceAll(msg, fmt.Sprintf("%q", c), "")
	}
	for _, num := range regexp.MustCompile(`-?[0-9]+`).FindAllString(msg, -1) {
		// The sum of digits out of range means nothing.
		sum := s.Sequence.Validate() == nil && num == strconv.Itoa(s.Sequence.Sum())
		if (num == digits && digits != "" || sum) && !public[num] {
			return true
		}
	}
	return false
}

// FuzzRender: for any spec Validate (and CheckInterface) accept, the
// restore file and the shell function parse back to exactly the rules
// Spec.FamilyRules intends, for each family, with nothing else in them but
// comments and the table lines, no metacharacter from the input in a rule
// line, and every --seconds small enough for the kernel (seconds·HZ in 32
// bits, HZ up to 1000). For any spec Validate refuses, the error does not
// show the sequence.
func FuzzRender(f *testing.F) {
	type seed struct {
		seq                   string
		window, knock, secure int
		dnat                  bool
		tag, iface            string
		seedRules             bool
		limit, period, prefix int
		family                uint8
		conntrack             bool
	}
	for _, c := range []seed{
		{"1234", 3, 443, 443, false, "", "", false, 0, 0, 0, 0, false},                        // the defaults: hardened
		{"1234", 3, 443, 443, false, "", "", true, 0, 0, 0, 0, false},                         // the seed's rules
		{"3141592", 1, 443, 22, true, "ssh", "ppp+", false, 0, 0, 0, 0, true},                 // DNAT, wildcard interface
		{"1234", 2, 22, 22, true, "", "eth0", false, 0, 0, 0, 0, false},                       // DNAT refused: one port
		{"12", 5, 9000, 22, false, "abcdefghijklmnop", "", false, 20, 3600, 48, 1, false},     // max tag, IPv4 only
		{"987", 1, 1, 65535, false, "x_-Y", "", false, -1, 0, 0, 2, true},                     // no fail limit, IPv6 only
		{"11111111", 7, 2222, 2222, false, "t", "", false, 255, MaxFailPeriod, 128, 3, false}, // the largest limit and period, IPv6 by /128
		{"999999999999999", 1, 22, 22, false, "", "", false, 0, 0, 0, 0, false},               // sum too large
		{"1204", 1, 22, 22, false, "", "", false, 0, 0, 0, 0, false},                          // a zero burst
		{"1234", 1, 22, 22, false, "a b", "", false, 0, 0, 0, 0, false},                       // bad tag
		{"1234", 1, 22, 22, true, "", "eth0;id", false, 0, 0, 0, 0, false},                    // bad interface
		{"1234", 1 << 30, 22, 22, false, "", "", false, 0, 0, 0, 0, false},                    // a huge window
	} {
		f.Add(c.seq, c.window, c.knock, c.secure, c.dnat, c.tag, c.iface, c.seedRules, c.limit, c.period, c.prefix, c.family, c.conntrack)
	}
	f.Fuzz(func(t *testing.T, seq string, window, knock, secure int, dnat bool, tag, iface string, seedRules bool,
		limit, period, prefix int, family uint8, conntrack bool) {
		sq := make(knocker.Sequence, 0, len(seq))
		for _, c := range []byte(seq) {
			sq = append(sq, int(c)-'0')
		}
		s := Spec{Sequence: sq, Window: window, KnockPort: knock, SecurePort: secure, DNAT: dnat, Tag: tag,
			Seed: seedRules, FailLimit: limit, FailPeriod: period, FailPrefix6: prefix}
		if err := s.Validate(); err != nil {
			if len(sq) > 0 && leaks(err.Error(), s) {
				t.Fatalf("%+v: the error shows the sequence: %v", s, err)
			}
			return
		}
		if iface != "" && CheckInterface(iface) != nil {
			return
		}
		if strings.ContainsAny(tag+iface, metachars) {
			t.Fatalf("accepted tag %q, interface %q", tag, iface)
		}
		o := RestoreOptions{Families: [][]int{nil, {4}, {6}, {4, 6}}[family%4], Interface: iface, Conntrack: conntrack}
		for _, fam := range []int{4, 6} {
			for _, r := range s.FamilyRules(s.Listener(), fam) {
				if r.Recent != nil && r.Recent.Seconds > MaxFailPeriod {
					t.Fatalf("%+v: --seconds %d: the kernel's seconds*HZ overflows 32 bits", s, r.Recent.Seconds)
				}
			}
		}
		text := s.Restore(o)
		for _, fam := range families(o.Families) {
			if err := checkRestore(s, o, text, fam); err != nil {
				t.Fatalf("%+v %+v: %v\n%s", s, o, err, text)
			}
		}
		if sh := s.ShellFunction(o); checkShell(s, o, sh) != nil {
			t.Fatalf("%+v %+v: %v\n%s", s, o, checkShell(s, o, sh), sh)
		}
	})
}

// TestRenderParsers: the parsers the fuzz target relies on refuse what is
// not the listener, so that its checks can fail.
func TestRenderParsers(t *testing.T) {
	s := Spec{Sequence: []int{1, 2, 3, 4}, Window: 3, KnockPort: 443, SecurePort: 22, DNAT: true, Tag: "t"}
	o := RestoreOptions{Interface: "eth1", Conntrack: true}
	good := s.Restore(o)
	for _, fam := range []int{4, 6} {
		if err := checkRestore(s, o, good, fam); err != nil {
			t.Fatalf("family %d: %v\n%s", fam, err, good)
		}
	}
	if err := checkShell(s, o, s.ShellFunction(o)); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"extra rule": func(r string) string { return strings.Replace(r, "COMMIT\n", "-A INPUT -j ACCEPT\nCOMMIT\n", 1) },
		"rule dropped": func(r string) string {
			return strings.Replace(r, "-A KNOCKS_t -p tcp --dport 22 -j CHECKKNOCKS_t\n", "", 1)
		},
		"hitcount":       func(r string) string { return strings.Replace(r, "--hitcount 11 ", "--hitcount 12 ", 1) },
		"no jump":        func(r string) string { return strings.Replace(r, "-A INPUT -j KNOCKS_t\n", "", 1) },
		"undeclared":     func(r string) string { return strings.Replace(r, ":CHECKKNOCKS_t - [0:0]\n", "", 1) },
		"quote":          func(r string) string { return strings.Replace(r, "-i eth1", "-i \"eth1\"", 1) },
		"comment inside": func(r string) string { return strings.Replace(r, "COMMIT\n", "# x\nCOMMIT\n", 1) },
		"unknown option": func(r string) string { return strings.Replace(r, "--syn", "--syn --log", 1) },
		"mask": func(r string) string {
			return strings.Replace(r, "--mask ffff:ffff:ffff:ffff::", "--mask ffff:ffff:ffff:fffe::", 1)
		},
		"no COMMIT": func(r string) string { return strings.TrimSuffix(r, "COMMIT\n") },
	} {
		bad := edit(good)
		if bad == good {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if checkRestore(s, o, bad, 4) == nil && checkRestore(s, o, bad, 6) == nil {
			t.Errorf("%s: accepted\n%s", name, bad)
		}
	}
	sh := s.ShellFunction(o)
	for name, bad := range map[string]string{
		"command":   strings.Replace(sh, "-i eth1", "-i eth1;id", 1),
		"substitut": strings.Replace(sh, "-N FAILKNOCKS_t", "-N $(id)", 1),
		"extra":     strings.Replace(sh, "}\n", "  $IPTABLES -A INPUT -j ACCEPT\n}\n", 1),
		"family":    strings.Replace(sh, "--name fails64_t", "--name fails_t", 1),
	} {
		if bad == sh {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if checkShell(s, o, bad) == nil {
			t.Errorf("shell %s: accepted\n%s", name, bad)
		}
	}
	leaky := Spec{Sequence: []int{3, 1, 4, 1, 5}, Window: 3}
	ten := Spec{Sequence: []int{5, 5}, KnockPort: 10}
	if !leaks("sequence 31415 is bad", leaky) || !leaks("sum 14 too large", leaky) || leaks("window 3 is bad", leaky) || leaks("port 10 is bad", ten) {
		t.Error("leaks misjudges")
	}
}
