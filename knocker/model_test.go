package knocker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/knocker"
)

// The engine against the firewall model on a virtual clock: deterministic,
// microseconds per scenario.

var epoch = time.Unix(1_000_000, 0)

type vclock struct{ now time.Time }

func (c *vclock) Now() time.Time { return c.now }
func (c *vclock) SleepUntil(ctx context.Context, t time.Time) error {
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err()
}

// world connects an Engine to a Model.
type world struct {
	m      *firewall.Model
	clk    *vclock
	src    netip.Addr
	spec   firewall.Spec
	proto  firewall.Proto
	sent   int              // knocks sent so far
	lose   func(n int) bool // drops the n-th knock (1-based) when true
	rng    *rand.Rand       // with loss: drops any packet with that probability
	loss   float64
	jitter func() time.Duration      // path delay of each packet
	dialAt func(time.Time) time.Time // when the connection's SYN arrives
	single bool                      // no second connection inside the window
	opened int
}

func (w *world) at() time.Duration {
	d := w.clk.now.Sub(epoch)
	if w.jitter != nil {
		d += w.jitter()
	}
	return d
}

// dropped reports whether the network loses the next packet.
func (w *world) dropped() bool {
	return w.rng != nil && w.rng.Float64() < w.loss
}

type knocks struct{ w *world }

func (k knocks) Burst(n int) error {
	w := k.w
	for i := 0; i < n; i++ {
		w.sent++
		if w.lose != nil && w.lose(w.sent) || w.dropped() {
			continue
		}
		w.m.Packet(firewall.Packet{At: w.at(), Src: w.src, Proto: w.proto, DstPort: w.spec.KnockPort, SYN: w.proto == firewall.TCP})
	}
	return nil
}
func (knocks) Close() error { return nil }

type probe struct{ w *world }

func (p probe) Burst(n int) error {
	for i := 0; i < n; i++ {
		if p.w.dropped() {
			continue
		}
		if p.w.m.Open(p.w.src, p.w.at()) {
			p.w.opened++ // a bare SYN that opened: the client RSTs it
		}
	}
	return nil
}
func (probe) Close() error { return nil }

// dial is the real dialer's connection attempt: a SYN now, the kernel's
// retransmissions 1, 3, 7, ... s later, and the second connection of
// knocker's dialWindow with its own, all until the window's end. With
// dialAt set, one SYN that arrives then.
func (w *world) dial(ctx context.Context) (net.Conn, error) {
	dl, _ := ctx.Deadline()
	for _, at := range w.syns(w.clk.now, dl) {
		if !at.Before(dl) || w.dropped() {
			continue
		}
		d := at.Sub(epoch)
		if w.jitter != nil {
			d += w.jitter()
		}
		if w.m.Open(w.src, d) {
			w.clk.now = at
			c, s := net.Pipe()
			s.Close()
			return c, nil
		}
	}
	w.clk.now = dl
	return nil, fmt.Errorf("dial: %w", context.DeadlineExceeded)
}

// syns returns the instants the connection's SYNs leave, in order.
func (w *world) syns(now, dl time.Time) []time.Time {
	if w.dialAt != nil {
		return []time.Time{w.dialAt(now)}
	}
	var ts []time.Time
	retransmits := func(t time.Time) {
		for rto := time.Second; t.Before(dl); rto *= 2 {
			ts = append(ts, t)
			t = t.Add(rto)
		}
	}
	retransmits(now)
	if !w.single {
		retransmits(knocker.RedialAt(now, dl))
	}
	slices.SortFunc(ts, time.Time.Compare)
	return ts
}

func newWorld(t testing.TB, server string, proto firewall.Proto) *world {
	t.Helper()
	seq, err := knocker.ParseSequence(server)
	if err != nil {
		t.Fatal(err)
	}
	return newWorldSpec(t, firewall.Spec{Sequence: seq, Window: 1, KnockPort: 22, SecurePort: 22}, proto)
}

func newWorldSpec(t testing.TB, spec firewall.Spec, proto firewall.Proto) *world {
	t.Helper()
	m, err := firewall.NewModel(spec, 250, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &world{m: m, clk: &vclock{now: epoch.Add(time.Hour)}, src: netip.MustParseAddr("192.0.2.2"), spec: spec, proto: proto}
}

func (w *world) engine(t testing.TB, client string, retries int) *knocker.Engine {
	seq, err := knocker.ParseSequence(client)
	if err != nil {
		t.Fatal(err)
	}
	return &knocker.Engine{Sequence: seq, Window: time.Duration(w.spec.Window) * time.Second, Margin: knocker.DefaultMargin, Retries: retries,
		Knocks: knocks{w}, Probe: probe{w}, Dial: w.dial, Clock: w.clk}
}

func (w *world) attempts(t testing.TB, e *knocker.Engine) (int, error) {
	n := 0
	e.Trace = func(ev knocker.Event) {
		if ev.Kind == knocker.EventDial {
			n = ev.Attempt
		}
	}
	c, err := e.Open(context.Background())
	if c != nil {
		c.Close()
	}
	return n, err
}

func TestModelCleanOpen(t *testing.T) {
	for _, proto := range []firewall.Proto{firewall.UDP, firewall.TCP} {
		for _, s := range []string{"1234", "9", "12", "31425", "1111111111111111", "99999999"} {
			w := newWorld(t, s, proto)
			if n, err := w.attempts(t, w.engine(t, s, 2)); err != nil || n != 1 {
				t.Errorf("%v %d bursts: %d attempts, %v; want open on the first", proto, len(s), n, err)
			}
		}
	}
}

// TestModelLostKnockDoesNotPoison loses each knock of the first attempt in
// turn; the retry must open, whatever the first attempt left behind.
func TestModelLostKnockDoesNotPoison(t *testing.T) {
	for _, proto := range []firewall.Proto{firewall.UDP, firewall.TCP} {
		for _, s := range []string{"1234", "9191", "12345"} {
			seq, _ := knocker.ParseSequence(s)
			for lost := 1; lost <= seq.Sum(); lost++ {
				w := newWorld(t, s, proto)
				w.lose = func(n int) bool { return n == lost }
				// A knock of the last burst lost, with TCP knocks on the
				// secure port, is made up for by the first SYN, and the
				// second connection opens on the first attempt.
				if n, err := w.attempts(t, w.engine(t, s, 2)); err != nil || n > 2 {
					t.Errorf("%v %s, knock %d lost: %d attempts, %v; want open by the second", proto, s, lost, n, err)
				}
			}
		}
	}
}

// TestModelLateConnectDoesNotPoison: the first connection's SYN arrives
// after the window (a stalled client, a long path delay); with TCP knocks on
// the secure port it even counts as a knock. The retry opens when the SYN
// arrived before the engine gave up plus one window; a SYN delayed longer
// than that (2 s) lands among the retry's flush and costs one more attempt.
func TestModelLateConnectDoesNotPoison(t *testing.T) {
	for _, proto := range []firewall.Proto{firewall.UDP, firewall.TCP} {
		for _, tt := range []struct {
			delay    time.Duration
			attempts int
		}{{960 * time.Millisecond, 2}, {2 * time.Second, 3}} {
			delay := tt.delay
			w := newWorld(t, "1234", proto)
			first := true
			w.dialAt = func(at time.Time) time.Time {
				if first {
					first = false
					// Arrives late; the engine gave up at the window's end.
					w.m.Packet(firewall.Packet{At: at.Add(delay).Sub(epoch), Src: w.src, Proto: firewall.TCP, DstPort: 22, SYN: true})
					return at.Add(time.Hour)
				}
				return at
			}
			n, err := w.attempts(t, w.engine(t, "1234", 2))
			if err != nil || n > tt.attempts || (proto == firewall.UDP && n != 2) {
				t.Errorf("%v, connect %v late: %d attempts, %v; want open by attempt %d", proto, delay, n, err, tt.attempts)
			}
		}
	}
}

// TestModelStaleHits: hits left by someone else long ago (up to the ring's
// size) never keep the client out for more than one retry.
func TestModelStaleHits(t *testing.T) {
	for stale := 0; stale <= 32; stale++ {
		w := newWorld(t, "1234", firewall.UDP)
		for i := 0; i < stale; i++ {
			w.m.Packet(firewall.Packet{At: time.Duration(i) * 5 * time.Second, Src: w.src, Proto: firewall.UDP, DstPort: 22})
		}
		if n, err := w.attempts(t, w.engine(t, "1234", 2)); err != nil || n > 2 {
			t.Errorf("%d stale hits: %d attempts, %v", stale, n, err)
		}
	}
}

// TestModelJitter: per-packet path delay of up to ±20 ms never costs an
// attempt with the default margin.
func TestModelJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 500; i++ {
		w := newWorld(t, "1234", firewall.UDP)
		w.jitter = func() time.Duration { return time.Duration(r.IntN(40_001)-20_000) * time.Microsecond }
		if n, err := w.attempts(t, w.engine(t, "1234", 0)); err != nil || n != 1 {
			t.Fatalf("run %d: %d attempts, %v", i, n, err)
		}
	}
}

// TestModelWrongSequence: a wrong sequence never opens, except 1233 for
// 1234's server when the secure port is the knock port: the first SYN is
// the last burst's fourth knock there, as any client's SYN would be, and
// the second connection inside the window opens.
func TestModelWrongSequence(t *testing.T) {
	for _, wrong := range []string{"1235", "4321", "123", "1134", "2345"} {
		w := newWorld(t, "1234", firewall.UDP)
		_, err := w.attempts(t, w.engine(t, wrong, 2))
		if !errors.Is(err, knocker.ErrNoAnswer) || w.opened != 0 {
			t.Errorf("wrong sequence %s: %v (probes opened %d); want ErrNoAnswer", wrong, err, w.opened)
		}
	}
	w := newWorld(t, "1234", firewall.UDP)
	if n, err := w.attempts(t, w.engine(t, "1233", 0)); err != nil || n != 1 {
		t.Errorf("1233 for 1234 on one port: %d attempts, %v; want open by the second SYN", n, err)
	}
	w = newWorld(t, "1234", firewall.UDP)
	w.single = true
	if _, err := w.attempts(t, w.engine(t, "1233", 2)); !errors.Is(err, knocker.ErrNoAnswer) {
		t.Errorf("1233 for 1234 with one SYN per window: %v; want ErrNoAnswer", err)
	}
}

// TestModelBudget: Config.Budget is when the last attempt's connection
// starts, on the virtual clock, for a knock that never opens.
func TestModelBudget(t *testing.T) {
	for _, tc := range []struct {
		seq     string
		retries int
	}{{"1234", 0}, {"1234", 2}, {"12", 1}, {"31425", 3}} {
		w := newWorld(t, "9999", firewall.UDP) // the client's sequence never opens
		e := w.engine(t, tc.seq, tc.retries)
		start := w.clk.now
		var lastDial time.Time
		dial := e.Dial
		e.Dial = func(ctx context.Context) (net.Conn, error) {
			lastDial = w.clk.now
			return dial(ctx)
		}
		if _, err := e.Open(context.Background()); !errors.Is(err, knocker.ErrNoAnswer) {
			t.Fatalf("%s: %v", tc.seq, err)
		}
		seq, _ := knocker.ParseSequence(tc.seq)
		budget := knocker.Config{Sequence: seq, Window: time.Second, Margin: knocker.DefaultMargin, Retries: tc.retries}.Budget()
		if got := lastDial.Sub(start); got != budget {
			t.Errorf("%s, %d retries: the last attempt connected at %v, Budget says %v", tc.seq, tc.retries, got, budget)
		}
	}
}
