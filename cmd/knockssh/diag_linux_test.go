package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/knocker"
)

// The server-side diagnostics (--server-status, --watch) and the seed's
// clients (PortKnocker's usages, settings files, --interfaces, --init) end
// to end, with the real binary in the lab's namespaces.

// diagRun runs the binary in host's namespace with its own lock directory
// and returns stdout and stderr; it fails the test when the command fails.
func diagRun(t *testing.T, l *lab.Lab, h *lab.Host, dir string, args ...string) (string, string) {
	t.Helper()
	stdout, stderr, err := diagResult(l, h, dir, args...)
	if err != nil {
		t.Fatalf("knockssh %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

func diagResult(l *lab.Lab, h *lab.Host, dir string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := h.Command(ctx, knocksshBin, args...)
	c.Env = append(os.Environ(), "XDG_CACHE_HOME="+l.Dir)
	c.Dir = dir
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	return stdout.String(), stderr.String(), err
}

// diagConnect connects from the client to the server's port 22, from this
// process so that no process start delays the SYN beyond the window.
func diagConnect(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	c, err := dialFromClient(t, l, netip.AddrPortFrom(netip.MustParseAddr(host), 22), 3*time.Second)
	if err == nil {
		c.Close()
	}
	if err != nil {
		t.Errorf("%s: connecting to %s:22 after the knock: %v", t.Name(), host, err)
	}
}

// diagBursts sends UDP bursts of the given sizes from the client to the
// server's port 22, one window (1 s) apart, with the knocker's own sender
// and clock.
func diagBursts(t *testing.T, l *lab.Lab, sizes ...int) {
	t.Helper()
	err := l.Client.Do(func() error {
		s, err := knocker.NewSender(knocker.UDP, knocker.Target{Addr: netip.AddrPortFrom(l.ServerIP4, 22)})
		if err != nil {
			return err
		}
		defer s.Close()
		start := time.Now()
		for k, n := range sizes {
			if err := knocker.SystemClock.SleepUntil(context.Background(), start.Add(time.Duration(k)*time.Second)); err != nil {
				return err
			}
			if err := s.Burst(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestServerStatusFails: under the hardened rules (fail limit 2), after
// two wrong complete patterns --server-status shows the source's fails in
// the IPv4 fail list and until when it is dropped, and no fail list entry
// for IPv6.
func TestServerStatusFails(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1, Listener: "true"})
	rules, _ := diagRun(t, l, l.Client, l.Dir, "--rules", "--sequence", "1234", "--window", "1", "--port", "22", "--fail-limit", "2")
	for _, restore := range []string{"iptables-restore", "ip6tables-restore"} {
		c := l.Server.Command(context.Background(), restore, "--noflush")
		c.Stdin = strings.NewReader(rules)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", restore, err, out)
		}
	}
	for range 2 { // Sum knocks at once and a SYN: a wrong complete pattern
		diagBursts(t, l, 10)
		time.Sleep(10 * time.Millisecond)
		if c, err := dialFromClient(t, l, netip.AddrPortFrom(l.ServerIP4, 22), 200*time.Millisecond); err == nil {
			c.Close()
			t.Fatal("a wrong pattern opened")
		}
	}
	out, _ := diagRun(t, l, l.Server, l.Dir, "--server-status", "--sequence", "1234", "--window", "1", "--port", "22", "--fail-limit", "2")
	t.Logf("after 2 fails:\n%s", out)
	for _, want := range []string{
		`fails_INPUT: 1 source\(s\) with fails \(limit 2 within 24h0m0s\)\n192\.0\.2\.2: 2 fail\(s\) within the period: dropped until \+86[0-9]{3}\.[0-9]{2}s\n`,
		`fails64_INPUT: 0 source\(s\) with fails`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("--server-status lacks %q", want)
		}
	}
}

// TestServerStatus: after a partial knock (2 bursts) --server-status in the
// server namespace shows two bursts and that the knock stalled; after a
// complete one, four bursts a second apart and that the rules will open
// now, for the rest of the window, decoded against a knock stanza.
func TestServerStatus(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	kc := filepath.Join(l.Dir, "knock_config")
	writeFile(t, kc, "Host lab\n  KnockAddress 192.0.2.1\n  KnockSequence 1234\n  KnockPort 22\n  KnockWindow 1\n")

	diagBursts(t, l, 1, 2)
	time.Sleep(1700 * time.Millisecond) // burst 3 was due 1 s after burst 2
	out, _ := diagRun(t, l, l.Server, l.Dir, "--server-status", "--config", kc, "lab")
	t.Logf("after 2 bursts:\n%s", out)
	for _, want := range []string{
		"knocks_INPUT: 1 source(s); ages exact",
		"192.0.2.2: 3 hit(s)",
		"stalled after burst 2 of 4: burst 3 never came, the rules will not open",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--server-status after 2 bursts lacks %q", want)
		}
	}
	// Ages: burst 1 went out 2.7 s before the status began (a loaded
	// machine may start the status late, never early), burst 2 one window
	// after burst 1.
	// The sequence is known: the bursts that match it show no counts
	// (they would spell it out).
	m := regexp.MustCompile(`burst 1: knocks as the sequence wants at -(\d+\.\d+)s\n\s+burst 2: knocks as the sequence wants at -(\d+\.\d+)s`).FindStringSubmatch(out)
	if m == nil {
		t.Errorf("--server-status after 2 bursts lacks the two bursts with their ages")
	} else {
		a1, _ := strconv.ParseFloat(m[1], 64)
		a2, _ := strconv.ParseFloat(m[2], 64)
		if a1 < 2.65 || a1 > 5 || math.Abs(a1-a2-1) > 0.1 {
			t.Errorf("burst ages -%.2fs and -%.2fs, want about -2.7s and one window less", a1, a2)
		}
	}
	if strings.Contains(out, "burst 3:") {
		t.Error("--server-status shows a third burst")
	}
	// Without the sequence: the bursts only.
	out, _ = diagRun(t, l, l.Server, l.Dir, "--server-status")
	if !strings.Contains(out, "burst 2: 2 knocks") || !strings.Contains(out, "-> 2 bursts (give DESTINATION") {
		t.Errorf("--server-status without a sequence:\n%s", out)
	}
	// Without root: the list is readable (ip_list_perms 0644), the ages
	// are estimated.
	bin := diagPublicBinary(t)
	c := l.Server.Command(context.Background(), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "--server-status", "--sequence", "1234", "--window", "1", "--port", "22")
	c.Dir = "/"
	nobody, err := c.CombinedOutput()
	t.Logf("as nobody:\n%s", nobody)
	if err != nil || !strings.Contains(string(nobody), "ages estimated") || !strings.Contains(string(nobody), "burst 2: knocks as the sequence wants at -") ||
		!strings.Contains(string(nobody), "visible to other users") {
		t.Errorf("--server-status as nobody: %v", err)
	}

	l.FlushRecent(t)
	diagRun(t, l, l.Client, l.Dir, "--knock", "--config", kc, "--margin", "50ms", "lab")
	opened := time.Now()
	out, _ = diagRun(t, l, l.Server, l.Dir, "--server-status", "--config", kc, "lab")
	t.Logf("after a complete knock:\n%s", out)
	wants := []string{"192.0.2.2: 10 hit(s)", "burst 4: knocks as the sequence wants at -", "complete: the rules will open"}
	// The window is open for W - margin after --knock returns; a status
	// that a loaded machine started later rightly says it has passed.
	if time.Since(opened) < 900*time.Millisecond {
		wants = append(wants, "a connection from this source is accepted now, until +0.")
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("--server-status after a complete knock lacks %q", want)
		}
	}
	if regexp.MustCompile(`\d knocks? at`).MatchString(out) {
		t.Errorf("--server-status shows the counts of a matching knock (the sequence)")
	}
	// The gaps shown are the kernel's: compare them with the stamps in the
	// list (a loaded machine may delay a burst by a few jiffies; the
	// decode must show what the kernel holds, not the schedule).
	clock, err := firewall.ReadKernelClock()
	if err != nil {
		t.Fatal(err)
	}
	hz := clock.HZ
	entries := l.Recent(t)
	if len(entries) != 1 || len(entries[0].Stamps) != 10 {
		t.Fatalf("list holds %+v, want one source with 10 hits", entries)
	}
	stamps := slices.Sorted(slices.Values(entries[0].Stamps))
	var starts []uint64
	for i, st := range stamps {
		if i == 0 || st-stamps[i-1] > uint64(hz/2) {
			starts = append(starts, st)
		}
	}
	if len(starts) != 4 {
		t.Fatalf("kernel stamps %v do not form 4 bursts", stamps)
	}
	for k := 2; k <= 4; k++ {
		re := regexp.MustCompile(fmt.Sprintf(`burst %d: .*\((\d+\.\d+)s after burst %d\)`, k, k-1))
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no gap for burst %d", k)
			continue
		}
		want := float64(starts[k-1]-starts[k-2]) / float64(hz)
		if gap, _ := strconv.ParseFloat(m[1], 64); math.Abs(gap-want) > 0.006 {
			t.Errorf("burst %d shown %.2fs after burst %d, the kernel's stamps say %.3fs", k, gap, k-1, want)
		}
		if want < 0.9 || want > 1.1 {
			t.Errorf("burst %d came %.3fs after burst %d: the knock's schedule is off", k, want, k-1)
		}
	}
	if strings.Contains(out, "1234") {
		t.Error("--server-status shows the sequence")
	}
}

// diagPublicBinary returns a copy of the binary that any user may run.
func diagPublicBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "knockssh-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := os.ReadFile(knocksshBin)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "knockssh")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestWatch: --watch in the server namespace, while the client knocks,
// prints the four bursts and that the rules will open, then stops at
// --count 4.
func TestWatch(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := l.Server.Command(ctx, knocksshBin, "--watch", "--count", "4", "--sequence", "1234", "--window", "1", "--port", "22")
	var stdout bytes.Buffer
	w.Stdout = &stdout
	stderr, err := w.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	ready := false
	var head []string
	for !ready && sc.Scan() {
		head = append(head, sc.Text())
		ready = strings.Contains(sc.Text(), "knockssh: watching")
	}
	if !ready {
		w.Wait()
		t.Fatalf("--watch did not start: %s", strings.Join(head, "\n"))
	}
	go func() {
		for sc.Scan() {
		}
	}()
	diagRun(t, l, l.Client, l.Dir, "--knock", "--sequence", "1234", "--window", "1", "--port", "22", "192.0.2.1")
	if err := w.Wait(); err != nil {
		t.Fatalf("--watch: %v; stdout:\n%s", err, stdout.String())
	}
	out := stdout.String()
	t.Logf("--watch printed:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("--watch --count 4 printed %d lines, want 4", len(lines))
	}
	for k, line := range lines {
		want := fmt.Sprintf("192.0.2.2: burst %d: udp knocks as the sequence wants", k+1)
		if !strings.Contains(line, want) {
			t.Errorf("line %d %q lacks %q", k+1, line, want)
		}
	}
	if !strings.Contains(lines[1], "in progress: burst 2 of 4 matches") {
		t.Errorf("burst 2's line: %q", lines[1])
	}
	if !strings.Contains(lines[3], "-> complete: the rules will open") {
		t.Errorf("the last line does not say the rules will open: %q", lines[3])
	}
}

// TestPortKnockerUsages: the seed's PortKnocker command line (SERVER PORT
// SEQUENCE WINDOW-MS), ./knocksettings.txt and --settings FILE in both
// layouts, with the PortKnocker's 4 values and the OpenSesamy tool's 6
// (the client's eth0 index and a MAC), each opens the port for a
// connection.
func TestPortKnockerUsages(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	l.Sink(t, 22)
	var index int
	if err := l.Client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			index = ifi.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, stderr := diagRun(t, l, l.Client, l.Dir, "--knock", "192.0.2.1", "22", "1234", "1000")
	if !strings.Contains(stderr, "warning: the knock sequence on the command line is visible to other users") {
		t.Errorf("no warning about the sequence in argv: %s", stderr)
	}
	diagConnect(t, l, "192.0.2.1")

	for _, tt := range []struct{ name, content, protocol string }{
		{"knocksettings.txt", "192.0.2.1 22 1234 1000\n", ""},
		{"lines4.txt", "192.0.2.1\n22\n1234\n1000\n", ""},
		{"line6.txt", fmt.Sprintf("192.0.2.1 22 1234 1000 %d 00:0E:35:0E:77:B0\n", index), ""},
		{"lines6.txt", fmt.Sprintf("2001:db8::1\n22\n1234\n1000\n%d\n00:0E:35:0E:77:B0\n", index), ""},
		// The OpenSesamy tool's TCP SYN knocks, by the interface the
		// settings name: from a socket, and crafted (raw).
		{"tcp6.txt", fmt.Sprintf("192.0.2.1 22 1234 1000 %d 00:0E:35:0E:77:B0\n", index), "tcp"},
		{"raw6.txt", fmt.Sprintf("192.0.2.1 22 1234 1000 %d 00:0E:35:0E:77:B0\n", index), "raw"},
	} {
		dir := filepath.Join(l.Dir, strings.TrimSuffix(tt.name, ".txt"))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, tt.name), tt.content)
		args := []string{"--knock", "-v"}
		if tt.name != "knocksettings.txt" {
			args = append(args, "--settings", tt.name)
		}
		if tt.protocol != "" {
			args = append(args, "--protocol", tt.protocol)
		}
		_, stderr := diagRun(t, l, l.Client, dir, args...)
		if strings.Contains(stderr, "warning") {
			t.Errorf("%s: a warning: %s", tt.name, stderr)
		}
		if strings.Contains(tt.name, "6") != strings.Contains(stderr, "the MAC address is not used") {
			t.Errorf("%s: the note about the MAC address: %s", tt.name, stderr)
		}
		host := "192.0.2.1"
		if strings.Contains(tt.content, "2001:db8::1") {
			host = "2001:db8::1"
		}
		t.Run(tt.name, func(t *testing.T) { diagConnect(t, l, host) })
	}

	// A settings file naming an interface that does not reach the server
	// (the loopback) cannot open the port: the index is honoured.
	dir := filepath.Join(l.Dir, "lo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "knocksettings.txt"), "192.0.2.1 22 1234 1000 1 00:00:00:00:00:00\n")
	for _, proto := range []string{"udp", "raw"} {
		diagResult(l, l.Client, dir, "--knock", "--protocol", proto) // the knocks go nowhere; --knock cannot tell
		if out, err := l.Client.Command(context.Background(), "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/22").CombinedOutput(); err == nil {
			t.Errorf("port 22 open after %s knocks by the loopback (index 1): %s", proto, out)
		}
	}
}

// TestInterfacesLab: --interfaces in the client namespace lists the veth
// with its addresses and MAC.
func TestInterfacesLab(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Listener: "none"})
	out, _ := diagRun(t, l, l.Client, l.Dir, "--interfaces")
	t.Logf("--interfaces:\n%s", out)
	re := regexp.MustCompile(`(?m)^\d+\s+eth0\s+up\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+.*192\.0\.2\.2/24 2001:db8::2/64`)
	if !re.MatchString(out) {
		t.Errorf("--interfaces lacks eth0 up with its MAC and addresses")
	}
	if !regexp.MustCompile(`(?m)^1\s+lo\s+up\s+-\s+127\.0\.0\.1/8`).MatchString(out) {
		t.Errorf("--interfaces lacks lo")
	}
}

// TestInitThenKnock: --init writes a stanza with a new sequence (mode 0600)
// and prints the server rules; loaded on a server without a listener they
// open the port for "knockssh --knock DEST"; a second --init for the same
// destination is refused.
func TestInitThenKnock(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Listener: "true"})
	l.Sink(t, 22)
	kc := filepath.Join(l.Dir, "new", "knock_config")
	rules, stderr := diagRun(t, l, l.Client, l.Dir, "--init", "--config", kc, "--port", "22", "--window", "1", "192.0.2.1")
	fi, err := os.Stat(kc)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", kc, fi.Mode().Perm())
	}
	data, _ := os.ReadFile(kc)
	if !regexp.MustCompile(`^Host 192\.0\.2\.1\n    KnockSequence [1-9]{7}\n    KnockPort 22\n    KnockWindow 1\n$`).Match(data) {
		t.Errorf("the stanza:\n%s", data)
	}
	seq := regexp.MustCompile(`KnockSequence (\d+)`).FindSubmatch(data)
	if seq != nil && strings.Contains(stderr, string(seq[1])) {
		t.Error("--init's message shows the sequence")
	}
	// Before the rules, the port is closed.
	if out, err := l.Client.Command(context.Background(), "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/22").CombinedOutput(); err == nil {
		t.Fatalf("port 22 open without rules: %s", out)
	}
	for _, restore := range []string{"iptables-restore", "ip6tables-restore"} {
		c := l.Server.Command(context.Background(), restore, "--noflush")
		c.Stdin = strings.NewReader(rules)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s of --init's rules: %v: %s\n%s", restore, err, out, rules)
		}
	}
	diagRun(t, l, l.Client, l.Dir, "--knock", "--config", kc, "192.0.2.1")
	diagConnect(t, l, "192.0.2.1")

	_, stderr, err = diagResult(l, l.Client, l.Dir, "--init", "--config", kc, "192.0.2.1")
	if err == nil || !strings.Contains(stderr, "already applies to 192.0.2.1") {
		t.Errorf("a second --init: %v: %s", err, stderr)
	}
	if again, _ := os.ReadFile(kc); !bytes.Equal(again, data) {
		t.Error("the refused --init changed the file")
	}
}
