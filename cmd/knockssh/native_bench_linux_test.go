package main

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
)

// BenchmarkNative measures, in one run and with W=1, the time to
// "knockssh --native lab true" against the system-ssh path "knockssh lab
// true" (both knock: the floor is 3W), and, on a lab with the port open
// and no knock stanza, "knockssh --native lab true" against plain "ssh
// lab true": the native client's own cost. Medians of 5 runs of each,
// interleaved.
func BenchmarkNative(b *testing.B) {
	const runs = 5
	var native, system, nativeOpen, sshOpen []time.Duration
	for i := 0; i < b.N; i++ {
		f := newFront(b, labStanza)
		open := lab.New(b, lab.Options{Sequence: "1234", Window: 1, KnockPort: 22, SecurePort: 22, SSHD: true, Listener: "none"})
		empty := open.Dir + "/knock_config"
		writeFile(b, empty, "")
		openEnv := append(os.Environ(), "XDG_CACHE_HOME="+open.Dir, "KNOCKSSH_CONFIG="+empty)
		for range runs {
			native = append(native, timed(b, f.l.Client, f.env, knocksshBin, "--native", "-F", f.l.SSH.Config, "lab", "true"))
			system = append(system, timed(b, f.l.Client, f.env, knocksshBin, "-F", f.l.SSH.Config, "lab", "true"))
			nativeOpen = append(nativeOpen, timed(b, open.Client, openEnv, knocksshBin, "--native", "-F", open.SSH.Config, "lab", "true"))
			sshOpen = append(sshOpen, timed(b, open.Client, openEnv, "ssh", "-F", open.SSH.Config, "lab", "true"))
		}
	}
	fmt.Printf("\n%-48s %12s %12s %8s\n", "figure (W=1s, 1234, UDP, median)", "--native", "system ssh", "ratio")
	fmt.Printf("%-48s %12v %12v %8.3f\n", "knockssh [--native] lab true (knocked)", median(native).Round(time.Millisecond), median(system).Round(time.Millisecond), float64(median(native))/float64(median(system)))
	fmt.Printf("%-48s %12v %12v %8.3f\n", "open port, no stanza: --native vs plain ssh", median(nativeOpen).Round(time.Millisecond), median(sshOpen).Round(time.Millisecond), float64(median(nativeOpen))/float64(median(sshOpen)))
	fmt.Printf("(%d runs of each)\n\n", len(native))
	b.ReportMetric(float64(median(native).Milliseconds()), "native-ms")
	b.ReportMetric(float64(median(system).Milliseconds()), "system-ssh-ms")
	b.ReportMetric(float64(median(nativeOpen).Milliseconds()), "native-open-ms")
	b.ReportMetric(float64(median(sshOpen).Milliseconds()), "ssh-open-ms")
}
