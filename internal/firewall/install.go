package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A Runner runs one of the iptables tools (iptables-save, iptables-restore,
// their ip6tables twins) with stdin and returns its standard output. The
// installer's logic only ever talks to the firewall through a Runner, so
// tests can give it a fake one.
type Runner interface {
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
}

// execRunner runs the tools with os/exec, found on $PATH.
type execRunner struct{}

// Run runs name with args; a failure's error carries the tool's stderr.
func (execRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return out, fmt.Errorf("%s: %w: %s", name, err, firstLines(msg, 3))
		}
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "; ")
}

// savedTable is one table of iptables-save's output.
type savedTable struct {
	chains []string // in the order of their declarations
	// policy is each built-in chain's policy (ACCEPT, DROP); "-" for user
	// chains.
	policy map[string]string
	rules  []savedRule
}

// savedRule is one "-A CHAIN ..." line.
type savedRule struct {
	chain string
	args  []string // after the chain
	line  string   // as saved, without the counters
	// packets is the rule's packet counter (iptables-save -c), 0 without.
	packets uint64
}

func (t *savedTable) has(chain string) bool { return slices.Contains(t.chains, chain) }

func (t *savedTable) chainRules(chain string) []savedRule {
	var rs []savedRule
	for _, r := range t.rules {
		if r.chain == chain {
			rs = append(rs, r)
		}
	}
	return rs
}

// A saveLineError is a line parseSave does not read. Its text may hold
// the sequence (a rule's hitcount): Error quotes it, for iptables-save's
// own output; a file of knockssh's says only where.
type saveLineError struct {
	line int
	text string
	what string
}

func (e *saveLineError) Error() string {
	return fmt.Sprintf("iptables-save line %d: %s: %q", e.line, e.what, e.text)
}

// parseSave parses iptables-save output (with or without -c).
func parseSave(data []byte) (map[string]*savedTable, error) {
	tables := map[string]*savedTable{}
	var cur *savedTable
	for n, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "is incompatible, use 'nft' tool") {
			// iptables-nft cannot show (nor safely restore) a table that
			// holds native nftables rules.
			return nil, fmt.Errorf("iptables-save line %d: %s: knockssh cannot change a table managed with nft; add the rules with nft, or remove the native ones", n+1, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "*") {
			cur = &savedTable{}
			tables[line[1:]] = cur
			continue
		}
		if cur == nil {
			return nil, &saveLineError{n + 1, line, "outside a table"}
		}
		switch {
		case line == "COMMIT":
			cur = nil
		case strings.HasPrefix(line, ":"):
			name, rest, _ := strings.Cut(line[1:], " ")
			cur.chains = append(cur.chains, name)
			if cur.policy == nil {
				cur.policy = map[string]string{}
			}
			cur.policy[name], _, _ = strings.Cut(rest, " ")
		default:
			rule := line
			var packets uint64
			if strings.HasPrefix(rule, "[") {
				if counters, rest, ok := strings.Cut(rule, "] "); ok {
					rule = rest
					p, _, _ := strings.Cut(counters[1:], ":")
					packets, _ = strconv.ParseUint(p, 10, 64)
				}
			}
			f := strings.Fields(rule)
			if len(f) < 2 || f[0] != "-A" {
				return nil, &saveLineError{n + 1, line, "not a rule (-A CHAIN ...)"}
			}
			cur.rules = append(cur.rules, savedRule{chain: f[1], args: f[2:], line: rule, packets: packets})
		}
	}
	if cur != nil {
		return nil, errors.New("iptables-save output ends inside a table (no COMMIT)")
	}
	return tables, nil
}

// normalize returns a rule's arguments in a canonical form, so that a rule
// as knockssh writes it and as iptables-save prints it compare equal:
// without the implicit "-m tcp"/"-m udp", the recent match's default
// "--mask" (all ones) and "--rsource", with "--tcp-flags FIN,SYN,RST,ACK
// SYN" as "--syn" right after the protocol, and --ctstate's states sorted.
func normalize(args []string) string {
	var out []string
	syn := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-m" && i+1 < len(args) && (args[i+1] == "tcp" || args[i+1] == "udp"):
			i++
		case a == "--mask" && i+1 < len(args) && allOnes(args[i+1]):
			i++
		case a == "--rsource":
		case a == "--syn":
			syn = true
		case a == "--tcp-flags" && i+2 < len(args) && args[i+1] == "FIN,SYN,RST,ACK" && args[i+2] == "SYN":
			syn = true
			i += 2
		case (a == "--ctstate" || a == "--state") && i+1 < len(args):
			states := strings.Split(args[i+1], ",")
			sort.Strings(states)
			out = append(out, "--ctstate", strings.Join(states, ","))
			i++
		case a == "--to-destination" && i+1 < len(args):
			out = append(out, a, strings.TrimPrefix(args[i+1], "0.0.0.0"))
			i++
		default:
			out = append(out, a)
		}
	}
	if syn {
		at := len(out)
		for i := 0; i+1 < len(out); i++ {
			if out[i] == "-p" {
				at = i + 2
				break
			}
		}
		out = slices.Insert(out, at, "--syn")
	}
	return strings.Join(out, " ")
}

func allOnes(mask string) bool {
	return mask == "255.255.255.255" || strings.Trim(mask, "f:") == "" && strings.Count(mask, "ffff") == 8
}

// endsInDrop reports whether chain's last rule drops or rejects every
// packet that reaches it.
func endsInDrop(t *savedTable, chain string) bool {
	rs := t.chainRules(chain)
	if len(rs) == 0 {
		return false
	}
	n := strings.Fields(normalize(rs[len(rs)-1].args))
	return len(n) == 2 && n[0] == "-j" && (n[1] == "DROP" || n[1] == "REJECT")
}

// isConntrackAccept reports whether r accepts established connections and
// nothing else decides before it: -m conntrack --ctstate (or -m state
// --state) with ESTABLISHED among the states, -j ACCEPT, no other match.
func isConntrackAccept(r savedRule) bool {
	n := strings.Fields(normalize(r.args))
	if len(n) != 6 || n[0] != "-m" || (n[1] != "conntrack" && n[1] != "state") || n[2] != "--ctstate" || n[4] != "-j" || n[5] != "ACCEPT" {
		return false
	}
	return slices.Contains(strings.Split(n[3], ","), "ESTABLISHED")
}

// jumpsTo reports whether r jumps (-j) or goes (-g) to one of chains.
func jumpsTo(r savedRule, chains []string) bool {
	return slices.ContainsFunc(targets(r), func(to string) bool { return slices.Contains(chains, to) })
}

// targets returns the chains r jumps (-j) or goes (-g) to.
func targets(r savedRule) []string {
	var to []string
	for i := 0; i+1 < len(r.args); i++ {
		if r.args[i] == "-j" || r.args[i] == "-g" {
			to = append(to, r.args[i+1])
		}
	}
	return to
}

// A Change is what install or uninstall does to one family's firewall.
type Change struct {
	// Family is 4 (iptables) or 6 (ip6tables).
	Family int
	// Restore is the transaction for "iptables-restore --noflush"; empty
	// when nothing changes.
	Restore string
	// Diff lists the listener's lines (and the conntrack rule) that go,
	// prefixed "-", that come, "+", and that stay, " ".
	Diff string
	// Notes say what the change does beyond the listener, such as adding
	// the conntrack rule.
	Notes []string
	// Warnings name the rules that let some sources (by address, set or
	// interface) connect to the secure port without a knock.
	Warnings []string
	// before holds the tables the change touches as they were, to roll
	// back the listener's part of them.
	before map[string]*savedTable
	// conntrack is set when the change inserts the conntrack rule.
	conntrack bool
}

// Empty reports whether the change changes nothing.
func (c Change) Empty() bool { return c.Restore == "" }

// An Installer installs or removes a listener on this machine's firewall,
// one restore transaction per family.
type Installer struct {
	Spec Spec
	// Interface restricts the DNAT rules to one interface.
	Interface string
	// Families lists 4 and/or 6; empty means both.
	Families []int
	// Runner runs the iptables tools; nil means execRunner, os/exec on $PATH.
	Runner Runner
	// legacyTables reports whether the legacy backend has tables; nil
	// means legacyTablesPresent.
	legacyTables func(family int) bool
}

func (in *Installer) runner() Runner {
	if in.Runner == nil {
		return execRunner{}
	}
	return in.Runner
}

// save returns family's tables as iptables-save -c prints them.
func (in *Installer) save(ctx context.Context, family int) (map[string]*savedTable, error) {
	out, err := in.runner().Run(ctx, nil, command(family, "iptables-save"), "-c")
	if err != nil {
		return nil, err
	}
	return parseSave(out)
}

// Plan returns, per family, what Install (remove false) or Uninstall
// (remove true) would change, without changing anything. It refuses an
// install after which a new connection to the secure port would get in
// from anywhere without a knock (an earlier ACCEPT, or policy ACCEPT with
// nothing dropping the port), with a hint; the changes' Warnings name the
// rules that let some sources in, the other iptables backend's rules and
// native nftables input chains.
func (in *Installer) Plan(ctx context.Context, remove bool) ([]Change, error) {
	if err := in.Spec.Validate(); err != nil {
		return nil, err
	}
	if in.Interface != "" {
		if err := CheckInterface(in.Interface); err != nil {
			return nil, err
		}
	}
	var cs []Change
	for _, f := range families(in.Families) {
		tables, err := in.save(ctx, f)
		if err != nil {
			return nil, err
		}
		c, err := in.plan(f, tables, remove)
		if err != nil {
			return nil, err
		}
		if !remove {
			c.Warnings = append(c.Warnings, in.otherBackend(ctx, f)...)
		}
		cs = append(cs, c)
	}
	if !remove && len(cs) > 0 {
		// Native chains serve both families (inet) or one: said once.
		cs[0].Warnings = append(cs[0].Warnings, in.nativeNft(ctx)...)
	}
	return cs, nil
}

// plan computes the change from the saved tables to the listener installed
// (remove false) or absent (remove true).
func (in *Installer) plan(family int, tables map[string]*savedTable, remove bool) (Change, error) {
	s := in.Spec
	c := Change{Family: family, before: map[string]*savedTable{}}
	if err := in.checkForeign(family, tables); err != nil {
		return c, err
	}
	var tx, diff strings.Builder
	for _, table := range tableOrder {
		t := tables[table]
		if t == nil {
			t = &savedTable{}
		}
		// The chains any listener of this tag may own in the table.
		owned := in.tagChains(table)
		hook := hook(table)
		var want []string // normalized "-A ..." lines of the listener
		var wantText []string
		if !remove && s.owned(table) != nil {
			add := func(args []string) {
				wantText = append(wantText, "-A "+strings.Join(args, " "))
				want = append(want, args[0]+" "+normalize(args[1:]))
			}
			add(s.jumpArgs(table))
			// Grouped by chain in the order of owned, as "have" below.
			for _, ch := range owned {
				for _, r := range s.tableRules(table, in.Interface, family) {
					if r[0] == ch {
						add(r)
					}
				}
			}
		}
		// What the table has of the listener: jumps into its chains from
		// elsewhere, then the chains' rules.
		var have, haveText []string
		jumps, _ := listenerJumps(t, owned)
		for _, r := range jumps {
			have = append(have, r.chain+" "+normalize(r.args))
			haveText = append(haveText, r.line)
		}
		var present []string
		for _, ch := range owned {
			if !t.has(ch) {
				continue
			}
			present = append(present, ch)
			for _, r := range t.chainRules(ch) {
				have = append(have, r.chain+" "+normalize(r.args))
				haveText = append(haveText, r.line)
			}
		}
		// The conntrack rule must come before the jump to the listener.
		needConntrack := false
		if table == "filter" && !remove {
			needConntrack = true
			for _, r := range t.rules {
				if r.chain != "INPUT" {
					continue
				}
				if isConntrackAccept(r) {
					needConntrack = false
					break
				}
				if jumpsTo(r, owned) {
					break
				}
			}
		}
		// The wanted chains: owned itself (same tag) or nil. present holds
		// owned's chains in owned's order, so the two compare as they are.
		var wantChains []string
		if !remove {
			wantChains = s.owned(table)
		}
		keepJump := len(wantChains) > 0 && len(jumps) == 1 && jumps[0].chain == hook && normalize(jumps[0].args) == normalize(s.jumpArgs(table)[1:])
		if table == "filter" && !remove {
			// What a new connection to the secure port meets with the
			// listener installed: refuse an install that would protect
			// nothing, warn about rules that let some sources in.
			e := walkInput(plannedInput(t, owned, s.jumpArgs(table), keepJump), s.SecurePort, owned, s.KnockPort == s.SecurePort && !s.DNAT)
			if err := e.check(family); err != nil {
				return c, err
			}
			c.Warnings = e.warnings(family)
		}
		same := slices.Equal(have, want) && slices.Equal(present, wantChains) && !needConntrack
		writeDiff(&diff, table, haveText, have, wantText, want, same)
		if same {
			continue
		}
		c.before[table] = t
		fmt.Fprintf(&tx, "*%s\n", table)
		if table == "filter" && !remove {
			if endsInDrop(t, hook) {
				c.Notes = append(c.Notes, fmt.Sprintf("%s: %s ends with a rule that drops everything, and the listener's jump goes after it, where no packet reaches it: delete that rule and set the chain's policy to DROP instead (see configs/server-firewall.sh)", command(family, "iptables"), hook))
			}
		}
		if table == "filter" && remove {
			if n := closedNote(family, t, s, owned); n != "" {
				c.Notes = append(c.Notes, n)
			}
		}
		if needConntrack {
			c.conntrack = true
			fmt.Fprintf(&tx, "-I %s\n", strings.Join(conntrackArgs, " "))
			fmt.Fprintf(&diff, "+-I %s\n", strings.Join(conntrackArgs, " "))
			c.Notes = append(c.Notes, fmt.Sprintf("%s: INPUT had no rule accepting established connections before the listener: inserted %q at the top, so that open sessions never run through the knock chains",
				command(family, "iptables"), "-I "+strings.Join(conntrackArgs, " ")))
		}
		// Keep a single jump from the hook where it is; otherwise delete
		// every jump and append one.
		if !keepJump {
			for _, r := range jumps {
				fmt.Fprintf(&tx, "-D %s\n", strings.TrimPrefix(r.line, "-A "))
			}
		}
		for _, ch := range wantChains {
			fmt.Fprintf(&tx, ":%s - [0:0]\n", ch) // creates it, or empties it
		}
		for _, ch := range present {
			if !slices.Contains(wantChains, ch) {
				fmt.Fprintf(&tx, "-F %s\n", ch)
			}
		}
		for _, ch := range present {
			if !slices.Contains(wantChains, ch) {
				fmt.Fprintf(&tx, "-X %s\n", ch)
			}
		}
		for i, line := range wantText {
			if i == 0 && keepJump {
				continue
			}
			tx.WriteString(line + "\n")
		}
		tx.WriteString("COMMIT\n")
	}
	c.Restore = tx.String()
	c.Diff = diff.String()
	return c, nil
}

// checkForeign refuses tables where rules outside the listener's own chains
// use its recent list: a listener loaded another way, such as the seed's
// portKnockListener, which appends its rules to INPUT itself. Changing the
// chains under it would leave its --set rules dropping every knock (and,
// with the knock port = the secure port, every new connection).
func (in *Installer) checkForeign(family int, tables map[string]*savedTable) error {
	list := in.Spec.List()
	for _, table := range tableOrder {
		t := tables[table]
		if t == nil {
			continue
		}
		owned := in.tagChains(table)
		n := 0
		for _, r := range t.rules {
			if slices.Contains(owned, r.chain) {
				continue
			}
			for i := 0; i+1 < len(r.args); i++ {
				if r.args[i] == "--name" && r.args[i+1] == list {
					n++
					break
				}
			}
		}
		if n > 0 {
			return fmt.Errorf("%s: %d rule(s) outside knockssh's chains use the recent list %s: a listener loaded another way (the seed's portKnockListener?); remove it first, or use another --tag", command(family, "iptables"), n, list)
		}
	}
	return nil
}

// writeDiff writes table's listener lines as a line diff: "-" for lines
// that go, "+" for lines that come, " " for lines that stay.
func writeDiff(w io.Writer, table string, haveText, have, wantText, want []string, same bool) {
	if len(haveText) == 0 && len(wantText) == 0 {
		return
	}
	fmt.Fprintf(w, "*%s\n", table)
	// Longest common subsequence on the normalized lines.
	n, m := len(have), len(want)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if have[i] == want[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && have[i] == want[j]:
			fmt.Fprintf(w, " %s\n", haveText[i])
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(w, "+%s\n", wantText[j])
			j++
		default:
			fmt.Fprintf(w, "-%s\n", haveText[i])
			i++
		}
	}
}

// Apply carries out changes, as planned by Plan: per family one
// "iptables-restore --noflush" transaction, then a check that the firewall
// is now as planned and (for install) protects the secure port. When a
// transaction fails or the check does not hold, every family already
// changed is rolled back: the listener's part of it only, so that rules
// others added meanwhile stay, and nothing is left half-applied.
//
// Once a transaction has begun, cancelling ctx no longer interrupts it nor
// the rollback (each family's work is bounded by a minute instead): an
// interrupted install must not stop half-way. ctx is checked between
// families.
func (in *Installer) Apply(ctx context.Context, changes []Change, remove bool) error {
	var done []Change
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	fail := func(err error) error {
		if rb := in.rollback(work, append(done, changes[len(done)])); rb != nil {
			return fmt.Errorf("%w; rolling back failed too: %v", err, rb)
		}
		return fmt.Errorf("%w (rolled back: the listener's rules are as they were, and no other rule was touched)", err)
	}
	for _, c := range changes {
		if c.Empty() {
			done = append(done, c)
			continue
		}
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		restore := command(c.Family, "iptables-restore")
		if _, err := in.runner().Run(work, []byte(c.Restore), restore, "--noflush"); err != nil {
			return fail(err)
		}
		tables, err := in.save(work, c.Family)
		if err != nil {
			return fail(err)
		}
		// Planning again from the rules as loaded checks them: nothing
		// left to change, and (for install) nothing that lets a new
		// connection to the secure port in without a knock.
		again, err := in.plan(c.Family, tables, remove)
		if err != nil {
			return fail(err)
		}
		if !again.Empty() {
			return fail(fmt.Errorf("%s: the rules are not as planned after %s", command(c.Family, "iptables"), restore))
		}
		done = append(done, c)
	}
	return nil
}

// Rollback undoes what Apply did with changes, as Apply does when it
// fails: for what must succeed after the install (writing its boot hook),
// so that nothing is left half-applied. It is bounded by a minute and not
// interrupted by ctx.
func (in *Installer) Rollback(ctx context.Context, changes []Change) error {
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return in.rollback(work, changes)
}

// rollback undoes what changes did to the listener, from the firewall as
// it is now: it deletes the jumps into the tag's chains and the conntrack
// rule the change inserted, refills the chains as they were (creating
// and deleting chains as needed) and puts the old jumps back after the
// rules they followed. Rules others added or changed meanwhile (fail2ban,
// docker) stay. It works from the current tables, not from what the
// transaction should have done, so a transaction that failed half-way
// (one table committed, another not) rolls back too. The listener's
// counters start from zero again.
func (in *Installer) rollback(ctx context.Context, changes []Change) error {
	var errs []error
	for _, c := range changes {
		if len(c.before) == 0 { // an empty change has no tables before
			continue
		}
		now, err := in.save(ctx, c.Family)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var tx strings.Builder
		for _, table := range tableOrder {
			if before, ok := c.before[table]; ok {
				tx.WriteString(undoTx(table, before, orEmpty(now[table]), in.tagChains(table), c.conntrack && table == "filter"))
			}
		}
		if tx.Len() == 0 {
			continue
		}
		restore := command(c.Family, "iptables-restore")
		if _, err := in.runner().Run(ctx, []byte(tx.String()), restore, "--noflush"); err != nil {
			errs = append(errs, err)
			continue
		}
		after, err := in.save(ctx, c.Family)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for table, before := range c.before {
			owned := in.tagChains(table)
			if !slices.Equal(listenerParts(orEmpty(after[table]), owned), listenerParts(before, owned)) {
				errs = append(errs, fmt.Errorf("%s: after rolling back, the listener's rules in table %s are not as they were", command(c.Family, "iptables"), table))
			}
		}
	}
	return errors.Join(errs...)
}

// tagChains returns every chain a listener of the spec's tag may own in
// table.
func (in *Installer) tagChains(table string) []string {
	return (Spec{Tag: in.Spec.Tag, DNAT: true}).owned(table)
}

func orEmpty(t *savedTable) *savedTable {
	if t == nil {
		return &savedTable{}
	}
	return t
}

// listenerJumps returns t's rules outside owned that jump into owned,
// with their positions in their chains (1-based).
func listenerJumps(t *savedTable, owned []string) (jumps []savedRule, at []int) {
	n := map[string]int{}
	for _, r := range t.rules {
		n[r.chain]++
		if !slices.Contains(owned, r.chain) && jumpsTo(r, owned) {
			jumps = append(jumps, r)
			at = append(at, n[r.chain])
		}
	}
	return jumps, at
}

// listenerParts returns what of t is the listener's: its chains, their
// rules, and the jumps into them, normalized.
func listenerParts(t *savedTable, owned []string) []string {
	var parts []string
	jumps, _ := listenerJumps(t, owned)
	for _, r := range jumps {
		parts = append(parts, "jump "+r.chain+" "+normalize(r.args))
	}
	for _, ch := range owned {
		if t.has(ch) {
			parts = append(parts, ":"+ch)
			for _, r := range t.chainRules(ch) {
				parts = append(parts, r.chain+" "+normalize(r.args))
			}
		}
	}
	return parts
}

// countConntrack returns how many of INPUT's rules are knockssh's
// conntrack rule.
func countConntrack(t *savedTable) int {
	n := 0
	for _, r := range t.chainRules("INPUT") {
		if isConntrack(r) {
			n++
		}
	}
	return n
}

// otherListener reports whether INPUT in t jumps to a listener other than
// the one that owns the chains owned.
func otherListener(t *savedTable, owned []string) bool {
	for _, r := range t.chainRules("INPUT") {
		if slices.ContainsFunc(targets(r), func(to string) bool { return strings.HasPrefix(to, "KNOCKS_") && !slices.Contains(owned, to) }) {
			return true
		}
	}
	return false
}

// isConntrack reports whether r is the conntrack rule --install inserts.
func isConntrack(r savedRule) bool { return normalize(r.args) == normalize(conntrackArgs[1:]) }

// undoTx returns the "iptables-restore --noflush" block that takes table
// from now back to before as far as the listener (the chains owned, the
// jumps into them and, with conntrack, the conntrack rule the change
// inserted) is concerned; "" when there is nothing to undo.
func undoTx(table string, before, now *savedTable, owned []string, conntrack bool) string {
	// The inserted conntrack rule stays while another listener's jump is
	// in INPUT: an install of that tag found it there and added none, and
	// its sessions need it.
	extra := conntrack && countConntrack(now) > countConntrack(before) && !otherListener(now, owned)
	if !extra && slices.Equal(listenerParts(now, owned), listenerParts(before, owned)) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s\n", table)
	// The chains' rules as they are now, without what goes, to place the
	// old jumps by their neighbours.
	cur := map[string][]string{}
	dropped := false // the inserted conntrack rule, once
	nowJumps, _ := listenerJumps(now, owned)
	for _, r := range nowJumps {
		fmt.Fprintf(&b, "-D %s\n", strings.TrimPrefix(r.line, "-A "))
	}
	for _, r := range now.rules {
		switch {
		case slices.Contains(owned, r.chain) || jumpsTo(r, owned):
		case extra && r.chain == "INPUT" && !dropped && isConntrack(r):
			dropped = true
		default:
			cur[r.chain] = append(cur[r.chain], normalize(r.args))
		}
	}
	if extra {
		fmt.Fprintf(&b, "-D %s\n", strings.Join(conntrackArgs, " "))
	}
	for _, ch := range owned {
		switch {
		case before.has(ch):
			fmt.Fprintf(&b, ":%s - [0:0]\n", ch) // creates it, or empties it
		case now.has(ch):
			fmt.Fprintf(&b, "-F %s\n", ch)
		}
	}
	for _, ch := range owned {
		if now.has(ch) && !before.has(ch) {
			fmt.Fprintf(&b, "-X %s\n", ch)
		}
	}
	for _, ch := range owned {
		for _, r := range before.chainRules(ch) {
			b.WriteString(r.line + "\n")
		}
	}
	// Each old jump goes back after the rule it followed, where that rule
	// still is; otherwise at its old position.
	jumps, at := listenerJumps(before, owned)
	for i, j := range jumps {
		rules := before.chainRules(j.chain)
		pos := min(at[i]-1, len(cur[j.chain]))
		if at[i] > 1 {
			prev := normalize(rules[at[i]-2].args)
			if k := slices.Index(cur[j.chain], prev); k >= 0 {
				pos = k + 1
			}
		}
		cur[j.chain] = slices.Insert(cur[j.chain], pos, normalize(j.args))
		fmt.Fprintf(&b, "-I %s %d %s\n", j.chain, pos+1, strings.Join(j.args, " "))
	}
	b.WriteString("COMMIT\n")
	return b.String()
}
