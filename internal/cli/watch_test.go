package cli

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/knocker"
)

// feedKnocks gives the watcher bursts of UDP knocks from src, window apart,
// flushing as the capture loop does, and then a connection attempt.
func feedKnocks(w *watcher, src netip.Addr, start time.Time, window time.Duration, bursts []int, connect bool) {
	t := start
	for k, n := range bursts {
		t = start.Add(time.Duration(k) * window)
		w.flush(t, false)
		for i := 0; i < n; i++ {
			w.packet(t.Add(time.Duration(i)*time.Millisecond), src, firewall.UDP, 22, false)
		}
		w.flush(t.Add(250*time.Millisecond), false) // the capture loop's poll
	}
	t = t.Add(window / 4)
	w.flush(t, false)
	if connect {
		w.packet(t, src, firewall.TCP, 22, true)
	}
	w.flush(t.Add(time.Second), true)
}

func TestWatcher(t *testing.T) {
	spec := firewall.Spec{Sequence: knocker.Sequence{1, 2, 3, 4}, Window: 1, KnockPort: 22, SecurePort: 22}
	src := netip.MustParseAddr("192.0.2.2")
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		known   bool
		bursts  []int
		connect bool
		want    []string
	}{
		{"complete", true, []int{1, 2, 3, 4}, true, []string{
			"03:04:05.000 192.0.2.2: burst 1: udp knocks as the sequence wants -> in progress: burst 1 of 4 matches, burst 2 due at +0.75s",
			"03:04:06.000 192.0.2.2: burst 2: udp knocks as the sequence wants, 1.00s after burst 1 -> in progress: burst 2 of 4 matches",
			"03:04:08.000 192.0.2.2: burst 4: udp knocks as the sequence wants, 1.00s after burst 3 -> complete: the rules will open: a connection from this source is accepted now, until +0.7",
			"03:04:08.250 192.0.2.2: connection to port 22 accepted by the rules",
		}},
		{"wrong", true, []int{1, 3}, false, []string{
			"burst 2: 3 udp knocks, 1.00s after burst 1 -> the last burst does not start the sequence",
		}},
		{"too many", true, []int{1, 2, 3, 9}, false, []string{
			"03:04:08.000 192.0.2.2: 9 udp knocks, during which the rules reset this source's hits (a knock too many, or too many in all): the rules will not open",
		}},
		{"unknown", false, []int{2, 5}, false, []string{
			"burst 1: 2 udp knocks (give DESTINATION",
			"burst 2: 5 udp knocks, 1.00s after burst 1 (give DESTINATION",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := newWatcher(spec, tt.known, 250, &out)
			if err != nil {
				t.Fatal(err)
			}
			feedKnocks(w, src, start, time.Second, tt.bursts, tt.connect)
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "1234") {
				t.Error("the output shows the sequence")
			}
		})
	}
}
