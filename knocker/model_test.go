package knocker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
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
	sent   int                       // knocks sent so far
	lose   func(n int) bool          // drops the n-th knock (1-based) when true
	jitter func() time.Duration      // path delay of each packet
	dialAt func(time.Time) time.Time // when the connection's SYN arrives
	opened int
}

func (w *world) at() time.Duration {
	d := w.clk.now.Sub(epoch)
	if w.jitter != nil {
		d += w.jitter()
	}
	return d
}

type knocks struct{ w *world }

func (k knocks) Burst(n int) error {
	w := k.w
	for i := 0; i < n; i++ {
		w.sent++
		if w.lose != nil && w.lose(w.sent) {
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
		if p.w.m.Open(p.w.src, p.w.at()) {
			p.w.opened++ // a bare SYN that opened: the client RSTs it
		}
	}
	return nil
}
func (probe) Close() error { return nil }

func (w *world) dial(ctx context.Context) (net.Conn, error) {
	at := w.clk.now
	if w.dialAt != nil {
		at = w.dialAt(at)
	}
	dl, _ := ctx.Deadline()
	if at.Before(dl) && w.m.Open(w.src, at.Sub(epoch)) {
		c, s := net.Pipe()
		s.Close()
		return c, nil
	}
	w.clk.now = dl
	return nil, fmt.Errorf("dial: %w", context.DeadlineExceeded)
}

func newWorld(t *testing.T, server string, proto firewall.Proto) *world {
	t.Helper()
	seq, err := knocker.ParseSequence(server)
	if err != nil {
		t.Fatal(err)
	}
	spec := firewall.Spec{Sequence: seq, Window: 1, KnockPort: 22, SecurePort: 22}
	m, err := firewall.NewModel(spec, 250, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &world{m: m, clk: &vclock{now: epoch.Add(time.Hour)}, src: netip.MustParseAddr("192.0.2.2"), spec: spec, proto: proto}
}

func (w *world) engine(t *testing.T, client string, retries int) *knocker.Engine {
	seq, err := knocker.ParseSequence(client)
	if err != nil {
		t.Fatal(err)
	}
	return &knocker.Engine{Sequence: seq, Window: time.Second, Margin: knocker.DefaultMargin, Retries: retries,
		Knocks: knocks{w}, Probe: probe{w}, Dial: w.dial, Clock: w.clk}
}

func (w *world) attempts(t *testing.T, e *knocker.Engine) (int, error) {
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
				if n, err := w.attempts(t, w.engine(t, s, 2)); err != nil || n != 2 {
					t.Errorf("%v %s, knock %d lost: %d attempts, %v; want open on the second", proto, s, lost, n, err)
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

func TestModelWrongSequence(t *testing.T) {
	for _, wrong := range []string{"1233", "1235", "4321", "123", "1134"} {
		w := newWorld(t, "1234", firewall.UDP)
		_, err := w.attempts(t, w.engine(t, wrong, 2))
		if !errors.Is(err, knocker.ErrNoAnswer) || w.opened != 0 {
			t.Errorf("wrong sequence %s: %v (probes opened %d); want ErrNoAnswer", wrong, err, w.opened)
		}
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
