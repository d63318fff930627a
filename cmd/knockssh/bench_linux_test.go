package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/knocker"
)

// rssEnv, when set in the environment of the test binary, makes it run
// the command in its arguments, wait, and append the command's peak RSS in
// KiB, its user and system CPU time in microseconds and its context
// switches (voluntary and involuntary) to the file the variable names: the
// ProxyCommand wrapper with which BenchmarkFrontEnd
// measures the proxy's memory and CPU, and nc's.
const rssEnv = "KNOCKSSH_BENCH_RSS"

func init() {
	if out := os.Getenv(rssEnv); out != "" && len(os.Args) > 2 && (os.Args[2] == "--proxy" || filepath.Base(os.Args[1]) == "nc") {
		os.Exit(runRSSWrapper(out, os.Args[1:]))
	}
}

// runRSSWrapper is the test binary's side of rssEnv.
// ssh sends its ProxyCommand SIGHUP when it is done; the wrapper ignores
// it to outlive the child (which ends at its end of file) and record it.
func runRSSWrapper(out string, argv []string) int {
	signal.Ignore(syscall.SIGHUP, syscall.SIGTERM)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	f, ferr := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if ferr != nil {
		fmt.Fprintln(os.Stderr, ferr)
		return 1
	}
	fmt.Fprintln(f, ru.Maxrss, ru.Utime.Nano()/1000, ru.Stime.Nano()/1000, ru.Nvcsw+ru.Nivcsw)
	f.Close()
	return cmd.ProcessState.ExitCode()
}

// BenchmarkFrontEnd measures, with W=1 and in one run, what a user of the
// ssh front end waits and gets:
//   - time to "knockssh lab true" against its floor, 3W plus a plain
//     "ssh lab true" to an open port (the same sshd without the listener);
//   - the throughput of a 1 GiB scp download through "knockssh --proxy"
//     against nc as the ProxyCommand;
//   - the CPU time (user + system) the proxy takes for that copy against
//     nc's, and its context switches against nc's (the voluntary ones,
//     most of them, are the relay's wake-ups, which are most of its CPU);
//   - the same through a knocked --proxy (a knock of one burst, its 50 ms
//     margin taken off), where the proxy gives ssh the identification
//     string learned and checks the server's before the relay splices
//     the rest;
//   - the proxy's peak RSS during that copy.
//
// Medians of several runs; make bench prints the table (about a minute and
// a half).
func BenchmarkFrontEnd(b *testing.B) {
	const runs = 5
	const size = 1 << 30
	if _, err := exec.LookPath("nc"); err != nil {
		b.Fatalf("nc is needed as the relay baseline (apt install netcat-openbsd): %v", err)
	}
	var knock, plain, viaProxy, viaEarly, viaNC []time.Duration
	var rss, wakesProxy, wakesNC []int
	var cpuProxy, cpuNC []time.Duration
	for i := 0; i < b.N; i++ {
		f := newFront(b, labStanza)
		open := lab.New(b, lab.Options{Sequence: "1234", Window: 1, KnockPort: 22, SecurePort: 22, SSHD: true, Listener: "none"})
		env := append(os.Environ(), "XDG_CACHE_HOME="+open.Dir)
		for range runs {
			knock = append(knock, timed(b, f.l.Client, f.env, knocksshBin, "-F", f.l.SSH.Config, "lab", "true"))
			plain = append(plain, timed(b, open.Client, env, "ssh", "-F", open.SSH.Config, "lab", "true"))
		}

		blob := filepath.Join(open.Dir, "sparse")
		writeFile(b, blob, "")
		if err := os.Truncate(blob, size); err != nil {
			b.Fatal(err)
		}
		rssFile, ncFile := filepath.Join(open.Dir, "rss"), filepath.Join(open.Dir, "rss-nc")
		self, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		empty := filepath.Join(open.Dir, "knock_config")
		writeFile(b, empty, "")
		proxy := fmt.Sprintf("ProxyCommand=%s %s --proxy --config %s %%n %%h %%p", self, knocksshBin, empty)
		rssEnvs := append(slices.Clip(env), rssEnv+"="+rssFile)
		ncEnvs := append(slices.Clip(env), rssEnv+"="+ncFile)
		ncProxy := fmt.Sprintf("ProxyCommand=%s nc %%h %%p", self)
		// One core for the server's sshd, one for the client's scp, ssh and
		// relay: on two cores, where the scheduler puts three busy
		// processes moved the median by half from run to run; pinned, the
		// relay's CPU is what it takes from ssh.
		pinServer(b, open)
		pin := func(args ...string) []string { return append([]string{"-c", "0", "scp"}, args...) }
		one := filepath.Join(open.Dir, "knock_config_one")
		writeFile(b, one, "Host lab\n    KnockSequence 1\n    KnockPort 22\n")
		early := fmt.Sprintf("ProxyCommand=%s --proxy --config %s %%n %%h %%p", knocksshBin, one)
		timed(b, open.Client, env, "taskset", pin("-F", open.SSH.Config, "lab:"+blob, "/dev/null")...)              // warm the page cache
		timed(b, open.Client, env, "taskset", pin("-F", open.SSH.Config, "-o", early, "lab:"+blob, "/dev/null")...) // learn the string
		for range 5 {
			viaProxy = append(viaProxy, timed(b, open.Client, rssEnvs, "taskset", pin("-F", open.SSH.Config, "-o", proxy, "lab:"+blob, "/dev/null")...))
			viaEarly = append(viaEarly, timed(b, open.Client, env, "taskset", pin("-F", open.SSH.Config, "-o", early, "lab:"+blob, "/dev/null")...)-knocker.DefaultMargin)
			viaNC = append(viaNC, timed(b, open.Client, ncEnvs, "taskset", pin("-F", open.SSH.Config, "-o", ncProxy, "lab:"+blob, "/dev/null")...))
		}
		readUsage := func(file string, cpu *[]time.Duration, wakes, rss *[]int) {
			data, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var kib, switches int
				var user, sys int64
				if _, err := fmt.Sscan(line, &kib, &user, &sys, &switches); err != nil {
					b.Fatalf("%s: %q: %v", file, line, err)
				}
				*cpu = append(*cpu, time.Duration(user+sys)*time.Microsecond)
				*wakes = append(*wakes, switches)
				if rss != nil {
					*rss = append(*rss, kib)
				}
			}
		}
		readUsage(rssFile, &cpuProxy, &wakesProxy, &rss)
		readUsage(ncFile, &cpuNC, &wakesNC, nil)
	}
	floor := 3*time.Second + median(plain)
	mibps := func(d time.Duration) float64 { return size / d.Seconds() / (1 << 20) }
	fmt.Printf("\n%-44s %12s %12s %8s\n", "figure (W=1s, 1234, UDP, median)", "knockssh", "baseline", "ratio")
	fmt.Printf("%-44s %12v %12v %8.3f\n", "knockssh lab true vs 3W + plain ssh", median(knock).Round(time.Millisecond), floor.Round(time.Millisecond), float64(median(knock))/float64(floor))
	fmt.Printf("%-44s %12v %12s\n", "  overhead over the floor (target <= 100ms)", (median(knock) - floor).Round(time.Millisecond), "")
	fmt.Printf("%-44s %8.0f MiB/s %6.0f MiB/s %8.3f\n", "1 GiB scp via --proxy vs nc (target >= 1.0)", mibps(median(viaProxy)), mibps(median(viaNC)), float64(median(viaNC))/float64(median(viaProxy)))
	fmt.Printf("%-44s %8.0f MiB/s %6.0f MiB/s %8.3f\n", "  the same, knocked, early banner", mibps(median(viaEarly)), mibps(median(viaNC)), float64(median(viaNC))/float64(median(viaEarly)))
	fmt.Printf("%-44s %10.0f ms %10.0f ms %8.3f\n", "CPU for the 1 GiB vs nc's (target <= 1.0)", float64(median(cpuProxy).Milliseconds()), float64(median(cpuNC).Milliseconds()), float64(median(cpuProxy))/float64(median(cpuNC)))
	fmt.Printf("%-44s %12d %12d %8.3f\n", "  context switches for the 1 GiB vs nc's", median(wakesProxy), median(wakesNC), float64(median(wakesProxy))/float64(median(wakesNC)))
	fmt.Printf("%-44s %9d KiB\n", "--proxy peak RSS during the copy", slices.Max(rss))
	fmt.Printf("(%d knocked logins, %d plain, %d copies each way)\n\n", len(knock), len(plain), len(viaProxy))
	b.ReportMetric(float64((median(knock) - floor).Milliseconds()), "overhead-ms")
	b.ReportMetric(float64(median(viaNC))/float64(median(viaProxy)), "relay-ratio")
	b.ReportMetric(float64(median(cpuProxy))/float64(median(cpuNC)), "relay-cpu-ratio")
	b.ReportMetric(float64(median(viaNC))/float64(median(viaEarly)), "early-relay-ratio")
	b.ReportMetric(float64(slices.Max(rss)), "proxy-rss-KiB")
}

// pinServer moves every process of l's server namespace (its sshd, whose
// sessions inherit the mask) to CPU 1.
func pinServer(b *testing.B, l *lab.Lab) {
	b.Helper()
	out, err := exec.Command("ip", "netns", "pids", l.Server.Name).Output()
	if err != nil {
		b.Fatalf("ip netns pids: %v", err)
	}
	for _, pid := range strings.Fields(string(out)) {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", "1", pid).CombinedOutput(); err != nil {
			b.Fatalf("taskset %s: %v: %s", pid, err, out)
		}
	}
}

// timed runs a command in a lab namespace with env and returns how long
// it took; it stops the benchmark when the command fails.
func timed(b *testing.B, h *lab.Host, env []string, name string, args ...string) time.Duration {
	b.Helper()
	c := h.Command(context.Background(), name, args...)
	c.Env = env
	start := time.Now()
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

func median[T cmp.Ordered](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
