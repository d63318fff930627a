package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
)

// BenchmarkSharing measures connection sharing, against baselines of the
// same run (W=1, the seed's rules):
//   - 8 commands at once to one host vs one command (target <= 1.3x);
//   - 10 commands in a row vs one knock plus 10 commands over a shared
//     connection (target <= 1.0x);
//   - commands to 3 servers at once vs one (target <= 1.2x);
//
// and counts the knocks each took from the server's counters. Medians of
// 3 rounds, each from no master.
func BenchmarkSharing(b *testing.B) {
	const rounds = 3
	var one, eight, ten, shared []time.Duration
	var knocks8, knocks10 []uint64
	var fleetOne, fleetThree []time.Duration
	for i := 0; i < b.N; i++ {
		f := newFront(b, sharedStanza)
		cfg := f.l.SSH.Config
		exit := func() { f.cmd(context.Background(), knocksshBin, "-F", cfg, "-O", "exit", "lab").Run() }
		b.Cleanup(exit)
		cmd := func() time.Duration {
			return timed(b, f.l.Client, f.env, knocksshBin, "-F", cfg, "lab", "true")
		}
		for range rounds {
			exit()
			one = append(one, cmd())
			for range 10 {
				shared = append(shared, cmd()) // over the master the first made
			}
			exit()
			f.l.ZeroCounters(b)
			start := time.Now()
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() { cmd() })
			}
			wg.Wait()
			eight = append(eight, time.Since(start))
			knocks8 = append(knocks8, f.knocks()/knock1234)
			exit()
			f.l.ZeroCounters(b)
			start = time.Now()
			for range 10 {
				cmd()
			}
			ten = append(ten, time.Since(start))
			knocks10 = append(knocks10, f.knocks()/knock1234)
		}
		l := lab.New(b, lab.Options{Sequence: "1234", Window: 1, KnockPort: 22, SecurePort: 22, SSHD: true, Servers: 3})
		kc := filepath.Join(l.Dir, "knock_config")
		writeFile(b, kc, fleetStanza)
		env := append(os.Environ(), "XDG_CACHE_HOME="+l.Dir, "KNOCKSSH_CONFIG="+kc)
		for range rounds {
			fleetOne = append(fleetOne, timed(b, l.Client, env, knocksshBin, "-F", l.SSH.Config, "lab", "true"))
			start := time.Now()
			var wg sync.WaitGroup
			for _, host := range []string{"lab", "fleet1", "fleet2"} {
				wg.Go(func() { timed(b, l.Client, env, knocksshBin, "-F", l.SSH.Config, host, "true") })
			}
			wg.Wait()
			fleetThree = append(fleetThree, time.Since(start))
		}
	}
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	floor10 := median(one) + 10*median(shared)
	fmt.Printf("\n%-48s %10s %10s %7s %7s\n", "figure (W=1s, 1234, UDP, median)", "shared", "baseline", "ratio", "knocks")
	fmt.Printf("%-48s %10v %10v %7.3f %7d\n", "8 commands at once vs one (target <= 1.3)", ms(median(eight)), ms(median(one)), float64(median(eight))/float64(median(one)), slices.Max(knocks8))
	fmt.Printf("%-48s %10v %10v %7.3f %7d\n", "10 in a row vs 1 knock + 10 shared (<= 1.0)", ms(median(ten)), ms(floor10), float64(median(ten))/float64(floor10), slices.Max(knocks10))
	fmt.Printf("%-48s %10v\n", "one command over a shared connection", ms(median(shared)))
	fmt.Printf("%-48s %10v %10v %7.3f\n", "3 hosts at once vs one (target <= 1.2)", ms(median(fleetThree)), ms(median(fleetOne)), float64(median(fleetThree))/float64(median(fleetOne)))
	fmt.Printf("(%d rounds; knocks: the most any round took, from the server's counters)\n\n", rounds)
	b.ReportMetric(float64(median(eight))/float64(median(one)), "parallel8-ratio")
	b.ReportMetric(float64(median(ten))/float64(floor10), "sequential10-ratio")
	b.ReportMetric(float64(median(fleetThree))/float64(median(fleetOne)), "hosts3-ratio")
}
