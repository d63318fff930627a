package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/knocker"
)

// TestTimeoutRoom: a ConnectTimeout bounds the wait for the banner that
// the knock delays; it must outlast the first attempt, and every retry to
// leave room for them all.
func TestTimeoutRoom(t *testing.T) {
	seq, err := knocker.ParseSequence("1234")
	if err != nil {
		t.Fatal(err)
	}
	cfg := knocker.Config{Sequence: seq, Window: time.Second, Retries: 2}.WithDefaults()
	first, budget := firstAttempt(cfg), cfg.Budget()
	if first != 3050*time.Millisecond || budget != 19150*time.Millisecond {
		t.Fatalf("1234 at W=1: first attempt %v, budget %v; want 3.05s and 19.15s", first, budget)
	}
	for _, tc := range []struct {
		timeout time.Duration
		want    room
		text    string
	}{
		{0, roomUnbounded, "no limit"},
		{time.Second, roomNone, "1s is over before the knock's window opens (3.05s)"},
		{first, roomNone, "too short"},
		{first + time.Millisecond, roomFirst, "too short for a retry"},
		{10 * time.Second, roomFirst, "10s leaves 6.95s to connect after the first attempt"},
		{budget, roomFirst, "too short for a retry"},
		{20 * time.Second, roomAll, "20s leaves 850ms to connect after the knock's last retry (19.15s)"},
	} {
		r := timeoutRoom(tc.timeout, first, budget)
		if text := r.describe(tc.timeout, first, budget); r != tc.want || !strings.Contains(text, tc.text) {
			t.Errorf("ConnectTimeout %v: %d, %q; want %d, with %q", tc.timeout, r, text, tc.want, tc.text)
		}
	}
}

// TestPrintable: what ssh or a config says is shown without control
// characters, and cut short.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"OpenSSH_9.6p1":            "OpenSSH_9.6p1",
		"a\x1b[2Jb\r\n\x7f\u0085é": "a?[2Jb????é",
		strings.Repeat("x", 101):   strings.Repeat("x", 100) + "...",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
