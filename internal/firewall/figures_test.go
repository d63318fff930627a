package firewall

import (
	"strings"
	"testing"
)

// TestBruteForce pins the figures of the defaults against the formula
// 9^n·P/(2·A·L) and its bounds.
func TestBruteForce(t *testing.T) {
	seven := Spec{Sequence: []int{1, 2, 3, 4, 5, 6, 7}, Window: 3, KnockPort: 22, SecurePort: 22}
	six := Spec{Sequence: []int{1, 2, 3, 4, 5, 6}, Window: 3, KnockPort: 22, SecurePort: 22}
	seed := Spec{Sequence: []int{1, 2, 3, 4}, Window: 1, KnockPort: 22, SecurePort: 22, Seed: true}
	unlimited := seven
	unlimited.FailLimit = NoFailLimit
	for _, c := range []struct {
		spec             Spec
		sources, listTot int
		want             string
	}{
		{seven, 1, 1, "1310 years"}, // 4782969·86400/(2·5) s
		{seven, 100, 100, "13 years"},
		{seven, 10000, 10000, "48 days"},
		{seven, 10000, 100, "5.0 days"}, // the fail limit evicted: 100 sources at once, one pattern per 18 s
		{six, 10000, 10000, "5.3 days"},
		{seed, 1, 100, "1.5 hours"}, // 3645/2 patterns, one per 3 s
		{seed, 100, 100, "55 seconds"},
		{unlimited, 1, 100, "1.4 years"},
	} {
		if got := FormatSpan(c.spec.BruteForce(c.sources, c.listTot)); got != c.want {
			t.Errorf("%d bursts, seed %v, limit %d: %d sources, ip_list_tot %d: %s, want %s", len(c.spec.Sequence), c.spec.Seed, c.spec.FailLimit, c.sources, c.listTot, got, c.want)
		}
	}
	// The goal at the defaults: a year against 100 sources, a month
	// against 10,000, with ip_list_tot at the recommended value.
	if y := seven.BruteForce(100, RecommendedListTot) / (365.25 * 86400); y < 1 {
		t.Errorf("100 sources: %.2f years", y)
	}
	if d := seven.BruteForce(10000, RecommendedListTot) / 86400; d < 30 {
		t.Errorf("10,000 sources: %.1f days", d)
	}
	f := seven.Figures()
	for _, want := range []string{"9^7 = 4782969", "IPv6 /64) gets 5 per 1 day", "1310 years from 1, 13 years from 100, 48 days from 10000", "ip_list_tot=100", "5.0 days from 10000", "ip_list_tot=16384"} {
		if !strings.Contains(f, want) {
			t.Errorf("figures lack %q:\n%s", want, f)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(f, "\n"), "\n") {
		if !strings.HasPrefix(line, "# ") || len(line) > 80 {
			t.Errorf("figures line %q: want a comment of at most 80 characters", line)
		}
	}
}
