package firewall_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/knocker"
	"golang.org/x/sys/unix"
)

// kind is what a timeline event sends.
type kind int

const (
	udpKnock kind = iota // UDP datagrams to the knock port
	synKnock             // bare TCP SYNs to the knock port
	connect              // one bare TCP SYN to the port clients connect to
	other                // a UDP datagram to port 9: neither knock nor connect
)

// An event sends n packets of a kind back to back, at ms after the start.
type event struct {
	ms   int
	kind kind
	n    int
}

func knock(start int, k kind, seq string) []event {
	var es []event
	for i, c := range seq {
		es = append(es, event{start + 1000*i, k, int(c - '0')})
	}
	return es
}

// join merges event lists in time order.
func join(parts ...[]event) []event {
	var es []event
	for _, p := range parts {
		es = append(es, p...)
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].ms < es[j].ms })
	return es
}

type timeline struct {
	name   string
	seed   bool // the seed's rules, not the hardened ones
	seq    string
	knock  int
	secure int
	dnat   bool
	v6     bool
	events []event
}

var timelines = []timeline{
	{name: "right-udp", events: join(knock(0, udpKnock, "1234"), []event{{3300, connect, 1}})},
	{name: "right-tcp", events: join(knock(0, synKnock, "1234"), []event{{3300, connect, 1}})},
	{name: "right-udp-v6", v6: true, events: join(knock(0, udpKnock, "1234"), []event{{3500, connect, 1}})},
	{name: "right-tcp-v6", v6: true, events: join(knock(0, synKnock, "1234"), []event{{3900, connect, 1}})},
	{name: "early-then-right", events: join(knock(0, udpKnock, "1234"), []event{{2700, connect, 1}, {3300, connect, 1}})},
	{name: "late", events: join(knock(0, udpKnock, "1234"), []event{{4300, connect, 1}})},
	{name: "late-tcp", events: join(knock(0, synKnock, "1234"), []event{{4300, connect, 1}, {4600, connect, 1}})},
	{name: "wrong-1233", events: join(knock(0, udpKnock, "1233"), []event{{3300, connect, 1}})},
	{name: "wrong-2234-udp", events: join(knock(0, udpKnock, "2234"), []event{{3300, connect, 1}})},
	{name: "wrong-1134-udp", events: join(knock(0, udpKnock, "1134"), []event{{3300, connect, 1}})},
	// The 11th TCP knock runs the checks in the middle of burst 4; exactly W
	// after burst 3 which of two reset rules fires depends on the jiffy, so
	// burst 4 comes 100 ms late here.
	{name: "wrong-2234-tcp", events: join(knock(0, synKnock, "223"), []event{{3100, synKnock, 4}, {3300, connect, 1}})},
	{name: "wrong-4321-tcp", events: join(knock(0, synKnock, "4321"), []event{{3300, connect, 1}})},
	{name: "too-many", events: join(knock(0, udpKnock, "1235"), []event{{3300, connect, 1}, {3600, connect, 1}})},
	{name: "superseq-tcp", events: join(knock(0, synKnock, "123"), []event{{3000, synKnock, 4}, {4300, synKnock, 5}, {4600, connect, 1}})},
	{name: "reset-seqsum+1", events: join([]event{{0, udpKnock, 11}, {100, other, 1}}, knock(500, udpKnock, "1234"), []event{{3800, connect, 1}})},
	{name: "stale-within-4W", events: join(knock(0, udpKnock, "12"), knock(2500, udpKnock, "1234"), []event{{5800, connect, 1}})},
	{name: "stale-after-4W", events: join(knock(0, udpKnock, "12"), knock(5500, udpKnock, "1234"), []event{{8800, connect, 1}})},
	{name: "flush", events: join(knock(0, udpKnock, "123"), []event{{4200, connect, 1}, {8500, udpKnock, 10}, {8500, connect, 1}}, knock(8600, udpKnock, "1234"), []event{{11900, connect, 1}})},
	// knocker's retry: a knock lost, two SYNs in the window, the clear at
	// its close (50 ms after it, as knocker clears: at the close itself the
	// kernel may count the hits in or out by a jiffy), the settle, the next
	// attempt.
	{name: "retry-clear-at-close", events: join(knock(0, udpKnock, "1224"), []event{{3050, connect, 1}, {3525, connect, 1}, {4050, udpKnock, 10}, {4050, connect, 1}}, knock(8050, udpKnock, "1234"), []event{{11100, connect, 1}})},
	{name: "retry-clear-at-close-443", knock: 443, events: join(knock(0, udpKnock, "1224"), []event{{3050, connect, 1}, {3525, connect, 1}, {4050, udpKnock, 10}, {4050, connect, 1}}, knock(8050, udpKnock, "1234"), []event{{11100, connect, 1}})},
	{name: "second-syn-1233", events: join(knock(0, udpKnock, "1233"), []event{{3050, connect, 1}, {3525, connect, 1}})},
	{name: "reset-2seqsum+1", events: []event{{0, udpKnock, 10}, {4500, udpKnock, 10}, {9000, udpKnock, 1}, {9100, other, 1}}},
	{name: "knock443-secure22", knock: 443, events: join(knock(0, synKnock, "1234"), []event{{3300, connect, 1}})},
	{name: "dnat-udp", knock: 443, dnat: true, events: join(knock(0, udpKnock, "1234"), []event{{3300, connect, 1}})},
	{name: "dnat-tcp", knock: 443, dnat: true, events: join(knock(0, synKnock, "1234"), []event{{3300, connect, 1}})},
	{name: "dnat-udp-v6", knock: 443, dnat: true, v6: true, events: join(knock(0, udpKnock, "1234"), []event{{3300, connect, 1}})},
}

func (tl timeline) spec(t testing.TB) firewall.Spec {
	seq, err := knocker.ParseSequence(tl.seq)
	if err != nil {
		t.Fatal(err)
	}
	return firewall.Spec{Sequence: seq, Window: 1, KnockPort: tl.knock, SecurePort: tl.secure, DNAT: tl.dnat, Seed: tl.seed}
}

func (tl timeline) withDefaults() timeline {
	if tl.seq == "" {
		tl.seq = "1234"
	}
	if tl.knock == 0 {
		tl.knock = 22
	}
	if tl.secure == 0 {
		tl.secure = 22
	}
	return tl
}

// outcome is what the differential test compares.
type outcome struct {
	Counters []firewall.Counter // the listener's rules only
	Stamps   int                // hits left for the client, -1 for no entry
	Fails    int                // fails recorded for the client
}

// modelRun replays tl in the model, each event shifted by shift[i].
func modelRun(t testing.TB, tl timeline, src netip.Addr, phase time.Duration, shift []time.Duration) outcome {
	m, err := firewall.NewModel(tl.spec(t), 250, phase)
	if err != nil {
		t.Fatal(err)
	}
	connectPort := tl.secure
	if tl.dnat {
		connectPort = tl.knock
	}
	for i, e := range tl.events {
		at := time.Duration(e.ms)*time.Millisecond + shift[i]
		for k := 0; k < e.n; k++ {
			p := firewall.Packet{At: at + time.Duration(k)*20*time.Microsecond, Src: src}
			switch e.kind {
			case udpKnock:
				p.Proto, p.DstPort = firewall.UDP, tl.knock
			case synKnock:
				p.Proto, p.DstPort, p.SYN = firewall.TCP, tl.knock, true
			case connect:
				p.Proto, p.DstPort, p.SYN = firewall.TCP, connectPort, true
			case other:
				p.Proto, p.DstPort = firewall.UDP, 9
			}
			m.Packet(p)
		}
	}
	return outcome{Counters: listenerOnly(m.Counters()), Stamps: stampCount(m.Stamps(src)), Fails: m.Fails(src)}
}

func stampCount(s []uint64) int {
	if s == nil {
		return -1
	}
	return len(s)
}

func listenerOnly(cs []firewall.Counter) []firewall.Counter {
	var out []firewall.Counter
	for _, c := range cs {
		if c.Chain == "INPUT" && c.Rule <= 3 {
			continue // the lab's loopback, conntrack and ICMP rules
		}
		out = append(out, c)
	}
	return out
}

// TestModelTimelinesRobust checks that each timeline's outcome in the model
// does not depend on the jiffy phase nor on ±12 ms of scheduling error per
// event, so the kernel comparison below cannot flake on a busy machine.
func TestModelTimelinesRobust(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.2")
	for _, tl := range withSeed(timelines) {
		tl := tl.withDefaults()
		zero := make([]time.Duration, len(tl.events))
		want := modelRun(t, tl, src, 0, zero)
		r := rand.New(rand.NewPCG(1, uint64(len(tl.name))))
		for trial := 0; trial < 64; trial++ {
			shift := make([]time.Duration, len(tl.events))
			for i := range shift {
				shift[i] = time.Duration(r.IntN(25)-12) * time.Millisecond
			}
			phase := time.Duration(trial%4) * time.Millisecond
			if got := modelRun(t, tl, src, phase, shift); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: outcome depends on timing: %+v with shifts %v, %+v without", tl.name, got, shift, want)
				break
			}
		}
	}
}

// withSeed returns the timelines for the hardened rules, then the same for
// the seed's.
func withSeed(tls []timeline) []timeline {
	out := slices.Clone(tls)
	for _, tl := range tls {
		tl.seed = true
		out = append(out, tl)
	}
	return out
}

// TestKernelAgreesWithModel replays every timeline against the real kernel
// running the seed's portKnockListener in a lab, and again running the rules
// Spec.Shell generates for the seed's rules, the hardened rules as
// Spec.Shell generates them and as Spec.Restore does (whose IPv4 and IPv6
// fail rules are -4 and -6 lines of one file), and compares, rule by rule,
// the packet counters, what is left in the recent list and the fails
// recorded with the model's.
func TestKernelAgreesWithModel(t *testing.T) {
	t.Parallel()
	for _, rules := range []string{"seed", "generated", "hardened", "hardened-restore"} {
		for _, tl := range timelines {
			tl := tl.withDefaults()
			tl.seed = rules == "seed" || rules == "generated"
			t.Run(rules+"/"+tl.name, func(t *testing.T) {
				t.Parallel()
				replay(t, tl, rules)
			})
		}
	}
}

func replay(t *testing.T, tl timeline, rules string) {
	listener := "seed"
	switch rules {
	case "generated", "hardened":
		listener = tl.spec(t).Shell("INPUT")
	case "hardened-restore":
		listener = fmt.Sprintf("${IPTABLES}-restore --noflush <<'EOF'\n%sEOF\n", tl.spec(t).Restore(firewall.RestoreOptions{}))
	}
	l := lab.New(t, lab.Options{Sequence: tl.seq, Window: 1, KnockPort: tl.knock, SecurePort: tl.secure, DNAT: tl.dnat, Listener: listener})
	src := l.ClientIP4
	fam := 4
	if tl.v6 {
		src, fam = l.ClientIP6, 6
	}
	late, err := sendTimeline(l, tl)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	var got outcome
	spec := tl.spec(t)
	check, reset := spec.Chains()
	knocks := spec.Listener()
	for _, c := range l.Counters(t, fam) {
		switch {
		case c.Chain == "INPUT" && c.Rule > 3 && rules != "hardened-restore", c.Chain == check, c.Chain == reset, c.Chain == spec.FailChain():
		case c.Chain == knocks: // the restore form's input rules (INPUT has only the jump to them)
			c.Chain, c.Rule = "INPUT", c.Rule+3
		default:
			continue
		}
		got.Counters = append(got.Counters, firewall.Counter{Chain: c.Chain, Rule: c.Rule, Packets: c.Packets})
	}
	got.Stamps = -1
	for _, e := range l.Recent(t) {
		if e.Src == src {
			got.Stamps = len(e.Stamps)
		}
	}
	if !tl.seed {
		for _, e := range l.RecentList(t, spec.FailList(fam)) {
			got.Fails += len(e.Stamps) // the client is the only source
		}
	}
	// What the kernel accepted: the check chain's last rule. A right
	// sequence opens once; a wrong one never, but for 2234 under the seed's
	// rules (their first burst is "at least d1").
	accepted := uint64(0)
	for _, c := range got.Counters {
		if c.Chain == check && c.Rule == 2*len(spec.Sequence)+map[bool]int{true: 0, false: 1}[tl.seed] {
			accepted = c.Packets
		}
	}
	switch {
	case strings.HasPrefix(tl.name, "right-") && accepted != 1:
		t.Errorf("%s: the kernel accepted %d connections, want 1", tl.name, accepted)
	case strings.HasPrefix(tl.name, "wrong-") && accepted != 0 && !(tl.seed && tl.name == "wrong-2234-udp"):
		t.Errorf("%s: the kernel accepted %d connections, want none", tl.name, accepted)
	case tl.seed && tl.name == "wrong-2234-udp" && accepted != 1:
		t.Errorf("%s: the seed's rules accepted %d connections, want 1 (their weakness)", tl.name, accepted)
	}
	// The model replays the packets at the instants they really left;
	// the kernel's jiffy phase is unknown, so any phase may match.
	var wants []string
	for phase := time.Duration(0); phase < 4*time.Millisecond; phase += time.Millisecond {
		want := modelRun(t, tl, src, phase, late)
		if reflect.DeepEqual(sorted(got.Counters), sorted(want.Counters)) && got.Stamps == want.Stamps && got.Fails == want.Fails {
			return
		}
		wants = append(wants, format(want))
	}
	t.Errorf("kernel and model disagree (release errors %v)\nkernel: %s\nmodel:  %s", late, format(got), strings.Join(wants, "\n        "))
}

func sorted(cs []firewall.Counter) map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range cs {
		m[fmt.Sprintf("%s#%d", c.Chain, c.Rule)] = c.Packets
	}
	return m
}

func format(o outcome) string {
	s := fmt.Sprintf("stamps=%d fails=%d", o.Stamps, o.Fails)
	for _, c := range o.Counters {
		if c.Packets != 0 {
			s += fmt.Sprintf(" %s#%d=%d", c.Chain, c.Rule, c.Packets)
		}
	}
	return s
}

// sendTimeline sends tl's packets from l's client, each event at its time,
// and returns how late each was released.
func sendTimeline(l *lab.Lab, tl timeline) ([]time.Duration, error) {
	late := make([]time.Duration, len(tl.events))
	err := l.Client.Do(func() error {
		senders, err := timelineSenders(l, tl)
		if err != nil {
			return err
		}
		defer closeSenders(senders)
		start := time.Now()
		for i, e := range tl.events {
			due := start.Add(time.Duration(e.ms) * time.Millisecond)
			if err := knocker.SystemClock.SleepUntil(context.Background(), due); err != nil {
				return err
			}
			late[i] = time.Since(due)
			if err := senders[e.kind].Burst(e.n); err != nil {
				return err
			}
		}
		return nil
	})
	return late, err
}

// timelineSenders returns the senders of tl's kinds of event to l's
// server, made in the namespace the calling thread is in.
func timelineSenders(l *lab.Lab, tl timeline) (map[kind]knocker.Sender, error) {
	dst := l.ServerIP4
	if tl.v6 {
		dst = l.ServerIP6
	}
	connectPort := tl.secure
	if tl.dnat {
		connectPort = tl.knock
	}
	senders := map[kind]knocker.Sender{}
	for k, spec := range map[kind]struct {
		p    knocker.Protocol
		port int
	}{udpKnock: {knocker.UDP, tl.knock}, synKnock: {knocker.TCP, tl.knock}, connect: {knocker.TCP, connectPort}, other: {knocker.UDP, 9}} {
		s, err := knocker.NewSender(spec.p, knocker.Target{Addr: netip.AddrPortFrom(dst, uint16(spec.port))})
		if err != nil {
			closeSenders(senders)
			return nil, err
		}
		senders[k] = s
	}
	return senders, nil
}

func closeSenders(senders map[kind]knocker.Sender) {
	for _, s := range senders {
		s.Close()
	}
}

// sendTimelineAll replays tl to every lab in step, from one thread that
// enters each lab's client namespace in turn for each event: the labs get
// each event microseconds apart, however late the machine's load makes
// it, so that a differential test compares their rules on the same
// timeline (replayed by one goroutine per lab, an event 50 ms late in one
// lab only, under the whole suite's load, made the seed's rules and the
// restore file disagree).
func sendTimelineAll(labs []*lab.Lab, tl timeline) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread's namespace is no longer the
		// process's, and it ends with the goroutine.
		runtime.LockOSThread()
		errc <- func() error {
			ns := make([]int, len(labs))
			for i, l := range labs {
				fd, err := unix.Open("/var/run/netns/"+l.Client.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					return fmt.Errorf("opening namespace %s: %w", l.Client.Name, err)
				}
				defer unix.Close(fd)
				ns[i] = fd
			}
			enter := func(i int) error {
				if err := unix.Setns(ns[i], unix.CLONE_NEWNET); err != nil {
					return fmt.Errorf("entering namespace %s: %w", labs[i].Client.Name, err)
				}
				return nil
			}
			senders := make([]map[kind]knocker.Sender, len(labs))
			for i, l := range labs {
				if err := enter(i); err != nil {
					return err
				}
				s, err := timelineSenders(l, tl)
				if err != nil {
					return err
				}
				defer closeSenders(s)
				senders[i] = s
			}
			start := time.Now()
			for _, e := range tl.events {
				if err := knocker.SystemClock.SleepUntil(context.Background(), start.Add(time.Duration(e.ms)*time.Millisecond)); err != nil {
					return err
				}
				for i := range labs {
					if err := enter(i); err != nil {
						return err
					}
					if err := senders[i][e.kind].Burst(e.n); err != nil {
						return err
					}
				}
			}
			return nil
		}()
	}()
	return <-errc
}
