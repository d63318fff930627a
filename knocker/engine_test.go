package knocker

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// virtualClock is a Clock whose time moves only when someone sleeps.
type virtualClock struct{ now time.Time }

func (c *virtualClock) Now() time.Time { return c.now }

func (c *virtualClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.After(c.now) {
		c.now = t
	}
	return nil
}

// recorder is a Sender that notes when each burst was sent.
type recorder struct {
	clk    Clock
	bursts []time.Time
	sizes  []int
}

func (r *recorder) Burst(n int) error {
	r.bursts = append(r.bursts, r.clk.Now())
	r.sizes = append(r.sizes, n)
	return nil
}

func (r *recorder) Close() error { return nil }

func TestEngineKnockSchedule(t *testing.T) {
	for _, tt := range []struct {
		seq    string
		window time.Duration
	}{
		{"1234", time.Second},
		{"9", 2 * time.Second},
		{"12345", time.Second},
		{"1111111111111111", 3 * time.Second},
	} {
		clk := &virtualClock{now: time.Unix(1000, 0)}
		rec := &recorder{clk: clk}
		seq, _ := ParseSequence(tt.seq)
		e := &Engine{Sequence: seq, Window: tt.window, Margin: DefaultMargin, Knocks: rec, Clock: clk}
		start := clk.now
		tl, err := e.Knock(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for k, at := range rec.bursts {
			if want := start.Add(time.Duration(k) * tt.window); !at.Equal(want) {
				t.Errorf("%s: burst %d at %v, want %v", tt.seq, k+1, at.Sub(start), want.Sub(start))
			}
			if rec.sizes[k] != seq[k] {
				t.Errorf("%s: burst %d has %d knocks, want %d", tt.seq, k+1, rec.sizes[k], seq[k])
			}
		}
		if want := time.Duration(len(seq)-1)*tt.window + DefaultMargin; tl.Open != want || clk.now.Sub(start) != want {
			t.Errorf("%s: open at %v (clock %v), want %v", tt.seq, tl.Open, clk.now.Sub(start), want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestEngineOpenRetriesFlushAndWait(t *testing.T) {
	clk := &virtualClock{now: time.Unix(1000, 0)}
	knocks := &recorder{clk: clk}
	probe := &recorder{clk: clk}
	seq, _ := ParseSequence("1234")
	var dials []time.Time
	e := &Engine{
		Sequence: seq, Window: time.Second, Margin: DefaultMargin, Retries: 2,
		Knocks: knocks, Probe: probe, Clock: clk,
		Dial: func(ctx context.Context) (net.Conn, error) {
			dials = append(dials, clk.now)
			// Time out at the window's end, as a dropped SYN would.
			dl, _ := ctx.Deadline()
			clk.now = dl
			return nil, timeoutErr{}
		},
	}
	_, err := e.Open(context.Background())
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Open: %v, want ErrNoAnswer", err)
	}
	if len(dials) != 3 {
		t.Fatalf("%d dials, want 3", len(dials))
	}
	// Each flush comes when the failed attempt's window closes, and the
	// next attempt when the flush is 4W+margin old.
	// And a last one when the last attempt has failed, for the next knock.
	// A flush is knocks only: no probe, which the hardened rules would
	// count as a failed try.
	if len(probe.bursts) != 0 {
		t.Fatalf("%d probes, want none", len(probe.bursts))
	}
	flushes := []time.Time{knocks.bursts[4], knocks.bursts[9], knocks.bursts[14]}
	for i, p := range flushes[:2] {
		prevEnd := dials[i].Add(time.Second - DefaultMargin) // dial deadline = start+4W
		if !p.Equal(prevEnd) {
			t.Errorf("flush %d came %v after the failed attempt's window, want at once", i+1, p.Sub(prevEnd))
		}
		next := dials[i+1].Add(-3*time.Second - DefaultMargin) // the next attempt's first burst
		if got := next.Sub(p); got != 4*time.Second+DefaultMargin {
			t.Errorf("attempt %d started %v after flush %d, want 4.05s", i+2, got, i+1)
		}
	}
	// Flush: Sum knocks in one burst before each retry, plus the 4 bursts of each attempt.
	if len(knocks.sizes) != 3*4+3 || knocks.sizes[4] != seq.Sum() || knocks.sizes[len(knocks.sizes)-1] != seq.Sum() {
		t.Errorf("knock bursts %v, want 3 attempts of 4 bursts and 3 flushes of %d", knocks.sizes, seq.Sum())
	}
}

func TestEngineRefusedIsFinal(t *testing.T) {
	clk := &virtualClock{now: time.Unix(1000, 0)}
	seq, _ := ParseSequence("12")
	n := 0
	e := &Engine{
		Sequence: seq, Window: time.Second, Margin: DefaultMargin, Retries: 5,
		Knocks: &recorder{clk: clk}, Clock: clk,
		Dial: func(ctx context.Context) (net.Conn, error) {
			n++
			return nil, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
		},
	}
	if _, err := e.Open(context.Background()); err == nil || n != 1 {
		t.Fatalf("Open: %v after %d dials, want the refusal after 1", err, n)
	}
}
