package firewall

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file answers, from iptables-save's rules, what the filter table's
// INPUT does with a new TCP connection to the secure port from a source
// that has not knocked: the first SYN, from any address, on any interface
// but lo. The listener's own chains are not walked: they accept only a
// knocked source. With knock port = secure port (and no DNAT) they drop
// every other SYN to the port, as a knock; otherwise they leave it to the
// rules after the jump and the policy. With DNAT the knock port's SYNs
// reach the filter table already rewritten to the secure port, so the
// secure port is the one to look for there too.

// An opening is a rule that accepts such a connection.
type opening struct {
	rule string // as saved
	via  string // the chain reached from INPUT that holds it; "" for INPUT
	// conds say what the rule (or a jump on the way to it) needs that an
	// outsider may not have: "from 198.51.100.0/24", "on interface eth1".
	// None: it accepts anyone.
	conds []string
}

func (o opening) String() string {
	s := fmt.Sprintf("%q", maskHitcounts(o.rule))
	if o.via != "" {
		s += " (in " + o.via + ", reached from INPUT)"
	}
	return s
}

// exposure is the result of the walk.
type exposure struct {
	port int
	// open lists the rules that accept the connection before anything
	// drops it for everyone; the last one may have no conds.
	open []opening
	// policy is true when nothing decides for everyone and INPUT's policy
	// is ACCEPT.
	policy bool
	// closed is true when the connection is dropped for everyone (by a
	// rule, the listener or the policy) and no rule accepts it for some.
	closed bool
}

// unprotected reports whether anyone may connect without a knock.
func (e exposure) unprotected() bool {
	return e.policy || len(e.open) > 0 && len(e.open[len(e.open)-1].conds) == 0
}

// walkInput walks t's INPUT as a new TCP connection to port, with
// listenerDrops saying whether a jump to one of owned drops it (knock port
// = secure port). owned's chains are not entered.
func walkInput(t *savedTable, port int, owned []string, listenerDrops bool) exposure {
	e := exposure{port: port}
	w := walker{t: t, port: port, owned: owned, listenerDrops: listenerDrops, e: &e}
	switch w.walk("INPUT", nil, 0) {
	case verdictAccept:
	case verdictDrop:
		e.closed = len(e.open) == 0
	default:
		if t.policy["INPUT"] == "ACCEPT" {
			e.policy = true
		} else {
			e.closed = len(e.open) == 0
		}
	}
	return e
}

type verdict int

const (
	verdictNone   verdict = iota // fell off the chain (or RETURN)
	verdictAccept                // accepted for everyone
	verdictDrop                  // dropped for everyone
)

type walker struct {
	t             *savedTable
	port          int
	owned         []string
	listenerDrops bool
	e             *exposure
}

// maxDepth bounds the walk into user chains (the kernel's own limit is
// deeper, but rulesets nest a few levels).
const maxDepth = 8

// walk walks chain with conds gathered on the way to it, and returns the
// verdict for everyone.
func (w *walker) walk(chain string, conds []string, depth int) verdict {
	for _, r := range w.t.chainRules(chain) {
		m := matchNewConn(r.args, w.port)
		if !m.matches {
			continue
		}
		c := append(conds[:len(conds):len(conds)], m.conds...)
		target, goTo := ruleTarget(r.args)
		switch {
		case slices.Contains(w.owned, target):
			if w.listenerDrops && len(c) == 0 {
				return verdictDrop
			}
		case target == "ACCEPT":
			o := opening{rule: r.line, conds: c}
			if chain != "INPUT" {
				o.via = chain
			}
			w.e.open = append(w.e.open, o)
			if len(c) == 0 {
				return verdictAccept
			}
		case target == "DROP" || target == "REJECT":
			if len(c) == 0 {
				return verdictDrop
			}
		case target == "RETURN":
			if len(c) == 0 {
				return verdictNone // in INPUT: the policy decides
			}
		case w.t.has(target) && w.t.policy[target] == "-" && depth < maxDepth:
			v := w.walk(target, c, depth+1)
			if v != verdictNone || goTo && len(c) == 0 {
				return v
			}
		}
		// Other targets (LOG, MARK, ...) go on to the next rule.
	}
	return verdictNone
}

// ruleTarget returns the rule's -j or -g target, and whether it is -g.
func ruleTarget(args []string) (string, bool) {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-j" || args[i] == "-g" {
			return args[i+1], args[i] == "-g"
		}
	}
	return "", false
}

// A match says whether a rule may match the connection's first SYN, and
// what it needs beyond that from the source.
type match struct {
	matches bool
	conds   []string
}

// matchNewConn evaluates args (iptables-save's form) against a TCP SYN,
// conntrack state NEW, to port, from an unknown source on an interface
// other than lo. Matches that narrow who gets in (source addresses, sets,
// interfaces) and those knockssh does not know become conds; those an
// attacker satisfies at will (source port, rate limits) are ignored.
func matchNewConn(args []string, port int) match {
	var m match
	neg := false
	module := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "!" {
			neg = true
			continue
		}
		val := func() string {
			if i+1 >= len(args) {
				return ""
			}
			i++
			v := args[i]
			if strings.HasPrefix(v, `"`) { // a quoted value with spaces
				for !strings.HasSuffix(v, `"`) || len(v) == 1 {
					if i+1 >= len(args) {
						break
					}
					i++
					v += " " + args[i]
				}
			}
			return v
		}
		// is applies a test's result, negated by a preceding "!".
		is := func(b bool) bool { return b != neg }
		fail := false
		switch a {
		case "-j", "-g":
			// The target and its options end the matches.
			return m.ok()
		case "-s", "--source":
			v := val()
			if !neg {
				m.conds = append(m.conds, "from "+v)
			}
		case "-d", "--destination", "--sport", "--source-port", "--sports", "--source-ports", "--limit", "--limit-burst",
			"--hashlimit-upto", "--hashlimit-burst", "--hashlimit-mode", "--hashlimit-name", "--hashlimit-htable-expire",
			"--hashlimit-srcmask", "--dst-range", "--comment":
			val()
		case "-i", "--in-interface":
			v := val()
			switch {
			case v == "lo" || v == "lo+":
				fail = !neg
			case !neg:
				m.conds = append(m.conds, "on interface "+v)
			}
		case "-p", "--protocol":
			v := val()
			fail = !is(v == "tcp" || v == "6" || v == "all" || v == "0")
		case "-f", "--fragment":
			fail = !is(false)
		case "-m", "--match":
			module = val()
		case "--dport", "--destination-port":
			fail = !is(inPorts(val(), port))
		case "--dports", "--destination-ports", "--ports":
			fail = !is(inPorts(val(), port))
		case "--syn":
			fail = !is(true)
		case "--tcp-flags":
			mask, comp := val(), val()
			fail = !is(synMatches(mask, comp))
		case "--ctstate", "--state":
			fail = !is(slices.Contains(strings.Split(val(), ","), "NEW"))
		case "--dst-type":
			v := val()
			fail = !is(v == "LOCAL")
		case "--match-set":
			name, dir := val(), val()
			if !neg && strings.HasPrefix(dir, "src") {
				m.conds = append(m.conds, "from the addresses in set "+name)
			} else {
				m.conds = append(m.conds, fmt.Sprintf("when -m set %s%s %s matches", negStr(neg), name, dir))
			}
		case "--src-range":
			v := val()
			if !neg {
				m.conds = append(m.conds, "from "+v)
			}
		case "--mac-source":
			v := val()
			if !neg {
				m.conds = append(m.conds, "from MAC "+v)
			}
		default:
			if strings.HasPrefix(a, "-") {
				if module == "" {
					module = a
				}
				m.conds = append(m.conds, fmt.Sprintf("when -m %s matches", module))
				// Skip its values.
				for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && args[i+1] != "!" {
					i++
				}
			}
		}
		neg = false
		if fail {
			return match{}
		}
	}
	return m.ok()
}

func (m match) ok() match {
	m.matches = true
	m.conds = slices.Compact(m.conds)
	return m
}

func negStr(neg bool) string {
	if neg {
		return "! "
	}
	return ""
}

// inPorts reports whether port is in list: "22", "1000:2000", ":1024",
// "22,80,1000:2000".
func inPorts(list string, port int) bool {
	for _, p := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(p, ":")
		a, b := 0, 65535
		var err error
		if lo != "" {
			if a, err = strconv.Atoi(lo); err != nil {
				return true // a service name: assume it may be the port
			}
		}
		if !isRange {
			b = a
		} else if hi != "" {
			if b, err = strconv.Atoi(hi); err != nil {
				return true
			}
		}
		if a <= port && port <= b {
			return true
		}
	}
	return false
}

// synMatches reports whether "--tcp-flags mask comp" matches a packet
// with SYN alone set.
func synMatches(mask, comp string) bool {
	flags := func(s string) map[string]bool {
		f := map[string]bool{}
		for _, x := range strings.Split(s, ",") {
			if x == "ALL" {
				for _, y := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"} {
					f[y] = true
				}
			} else if x != "NONE" {
				f[x] = true
			}
		}
		return f
	}
	ms, cs := flags(mask), flags(comp)
	for f := range ms {
		if cs[f] != (f == "SYN") {
			return false
		}
	}
	return true
}

// maskHitcounts hides the --hitcount and --seconds values of a rule
// quoted in a message: in another knock listener's rules they encode its
// sequence.
func maskHitcounts(rule string) string {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "--hitcount" || f[i] == "--seconds" {
			f[i+1] = "N"
		}
	}
	return strings.Join(f, " ")
}

// An unprotectedError says that with the listener installed a new
// connection to the secure port gets in without a knock, from anywhere.
type unprotectedError struct {
	family int
	e      exposure
}

func (u *unprotectedError) Error() string {
	tool := command(u.family, "iptables")
	if u.e.policy {
		return fmt.Sprintf("%s: nothing in INPUT drops a new connection to port %d that the listener leaves alone, and INPUT's policy is ACCEPT: the port would stay open without a knock", tool, u.e.port)
	}
	return fmt.Sprintf("%s: %s accepts new connections to port %d from anywhere before anything drops them: the port would stay open without a knock", tool, u.e.open[len(u.e.open)-1], u.e.port)
}

// Hint says how to close the port to those who have not knocked.
func (u *unprotectedError) Hint() string {
	tool := command(u.family, "iptables")
	if u.e.policy {
		return fmt.Sprintf("make sure INPUT accepts established sessions first (\"%s -I INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\"; else your own session drops), then set \"%s -P INPUT DROP\" and install again", tool, tool)
	}
	return "delete that rule, or restrict it to trusted sources (-s ADDRESS), then install again"
}

// warnings says, one line each, which rules let some sources in without a
// knock, and what they need.
func (e exposure) warnings(family int) []string {
	var ws []string
	for _, o := range e.open {
		if len(o.conds) > 0 {
			ws = append(ws, fmt.Sprintf("%s: %s accepts new connections to port %d without a knock %s", command(family, "iptables"), o, e.port, strings.Join(o.conds, " and ")))
		}
	}
	return ws
}

// check returns the exposure's error, nil when only some sources (or
// none) get in without a knock.
func (e exposure) check(family int) error {
	if e.unprotected() {
		return &unprotectedError{family: family, e: e}
	}
	return nil
}

// plannedInput returns filter t as it will be with the listener's jump
// (jumpArgs, "INPUT ...") in place: kept where a single one is, otherwise
// appended after every other jump into owned is deleted.
func plannedInput(t *savedTable, owned []string, jumpArgs []string, keep bool) *savedTable {
	if keep {
		return t
	}
	p := *t
	p.rules = nil
	for _, r := range t.rules {
		if !slices.Contains(owned, r.chain) && jumpsTo(r, owned) {
			continue
		}
		p.rules = append(p.rules, r)
	}
	if jumpArgs != nil {
		p.rules = append(p.rules, savedRule{chain: jumpArgs[0], args: jumpArgs[1:], line: "-A " + strings.Join(jumpArgs, " ")})
	}
	return &p
}

// installedPort returns the secure port of the listener installed in
// filter t: the --dport of its jump to the check chain; 0 when there is
// none.
func installedPort(t *savedTable, listener, check string) int {
	for _, r := range t.chainRules(listener) {
		if target, _ := ruleTarget(r.args); target != check {
			continue
		}
		for i := 0; i+1 < len(r.args); i++ {
			if r.args[i] == "--dport" {
				if p, err := strconv.Atoi(r.args[i+1]); err == nil {
					return p
				}
			}
		}
	}
	return 0
}

// closedNote says, for an uninstall, when nothing but the listener
// accepts new connections to its secure port: INPUT drops them for
// everyone once it is gone. "" otherwise.
func closedNote(family int, t *savedTable, s Spec, owned []string) string {
	check, _ := s.Chains()
	port := installedPort(t, s.Listener(), check)
	if port == 0 {
		return ""
	}
	if e := walkInput(plannedInput(t, owned, nil, false), port, nil, false); !e.closed {
		return ""
	}
	return fmt.Sprintf("%s: without the listener nothing in INPUT accepts new connections to port %d: the secure port is now closed to everyone (established sessions stay)", command(family, "iptables"), port)
}
