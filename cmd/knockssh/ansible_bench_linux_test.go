package main

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkAnsible measures what knockssh as ansible's ssh program costs:
// "ansible all -m ping" on three servers at W=1 through configs/ansible's
// ansible.cfg, each server knocked (the seed's rules), against the same
// command with ansible's plain ssh on three open servers in the same run.
// The difference should be one knock, (n-1)W + margin = 3.05 s, since the
// three knock at once. Medians of 3 rounds, each from no connection.
func BenchmarkAnsible(b *testing.B) {
	const rounds = 3
	var plain, knocked []time.Duration
	for i := 0; i < b.N; i++ {
		open := newAnsibleFleet(b, 1, "none")
		open.env = append(open.env, "ANSIBLE_SSH_EXECUTABLE=ssh")
		fleet := newAnsibleFleet(b, 1, "")
		for r := range rounds {
			for _, f := range []*ansibleFleet{open, fleet} {
				f.controlDir(fmt.Sprintf("cp-%d-%d", i, r))
				start := time.Now()
				f.checkPong(f.ansible("ansible", "all", "-m", "ping"))
				if f == open {
					plain = append(plain, time.Since(start))
				} else {
					knocked = append(knocked, time.Since(start))
				}
			}
		}
	}
	k, p := median(knocked), median(plain)
	fmt.Printf("\n%-48s %10s %12s %8s\n", "figure (W=1s, 3 servers, median)", "knockssh", "plain ssh", "diff")
	fmt.Printf("%-48s %9.3fs %11.3fs %7.3fs\n", "ansible all -m ping (one knock: 3.05 s)", k.Seconds(), p.Seconds(), (k - p).Seconds())
	b.ReportMetric((k - p).Seconds(), "ansible-knock-s")
}
