package firewall

import (
	"testing"
	"time"
)

func TestParseTimerList(t *testing.T) {
	in := "Timer List Version: v0.10\nHRTIMER_MAX_CLOCK_BASES: 8\nnow at 2658051611587 nsecs\n\ncpu: 0\n  .idle_jiffies   : 4295553728\njiffies: 4295556747\njiffies: 4295556748\n"
	j, now, err := parseTimerList([]byte(in))
	if err != nil || j != 4295556747 || now != 2658051611587*time.Nanosecond {
		t.Errorf("parseTimerList = %d, %v, %v", j, now, err)
	}
	if _, _, err := parseTimerList([]byte("now at 5 nsecs\n")); err == nil {
		t.Error("parseTimerList accepted a file without jiffies")
	}
}

// TestReadKernelClock: as root, the clock is exact and agrees with the
// estimate from CLOCK_MONOTONIC within a second.
func TestReadKernelClock(t *testing.T) {
	c, err := ReadKernelClock()
	if err != nil {
		t.Fatal(err)
	}
	mono := monotonic()
	est := initialJiffies(c.HZ) + uint64(mono*time.Duration(c.HZ)/time.Second)
	if d := int64(est - c.Now); d < -int64(c.HZ) || d > int64(c.HZ) {
		t.Errorf("jiffies %d, estimate from CLOCK_MONOTONIC %d: %d apart", c.Now, est, d)
	}
	t.Logf("HZ=%d now=%d exact=%v estimate off by %d jiffies (%s)", c.HZ, c.Now, c.Exact, int64(est-c.Now), c.Source)
}
