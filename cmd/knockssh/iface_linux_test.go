package main

import (
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/knockssh/knockssh/internal/lab"
)

// TestSettingsInterface: the seed's own settings file names interface
// index 1, the loopback on Linux: knockssh refuses it with a line naming
// the file, the index and the interface, and sends nothing; this
// machine's index of eth0 knocks. An interface that is down or has no
// route to the server is refused too.
func TestSettingsInterface(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	l.ZeroCounters(t)
	seed := filepath.Join(l.Dir, "seed.txt")
	writeFile(t, seed, "192.0.2.1 22 1234 1000 1 00:0E:35:0E:77:B0\n")
	_, stderr, err := diagResult(l, l.Client, l.Dir, "--knock", "--settings", seed)
	if err == nil {
		t.Fatalf("the seed's index 1 (lo) knocked: %s", stderr)
	}
	if !regexp.MustCompile(`(?m)^knockssh: .*seed\.txt:1: value 5 \(index 1\) names interface lo: unusable interface: lo is the loopback: knocks by it cannot reach 192\.0\.2\.1\nknockssh: hint: the OpenSesamy tool numbered`).MatchString(stderr) {
		t.Errorf("stderr:\n%s", stderr)
	}
	if n := knocksOn(t, l, l.Server); n != 0 {
		t.Errorf("the server counted %d knocks from a refused interface", n)
	}

	var eth0 int
	l.Client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			eth0 = ifi.Index
		}
		return err
	})
	good := filepath.Join(l.Dir, "good.txt")
	writeFile(t, good, "192.0.2.1 22 1234 1000 "+strconv.Itoa(eth0)+" 00:0E:35:0E:77:B0\n")
	diagRun(t, l, l.Client, l.Dir, "--knock", "--settings", good)
	if n := knocksOn(t, l, l.Server); n != knock1234 {
		t.Errorf("eth0 (index %d): the server counted %d knocks, want %d", eth0, n, knock1234)
	}

	l.Client.Run(t, "ip", "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1")
	for _, tc := range []struct{ setup, want string }{
		{"", "dummy0 is down"},
		{"up", "dummy0 has no IPv4 address: knocks by it cannot reach 192.0.2.1"},
	} {
		if tc.setup != "" {
			l.Client.Run(t, "ip", "link", "set", "dummy0", tc.setup)
		}
		_, stderr, err := diagResult(l, l.Client, l.Dir, "--knock", "--interface", "dummy0", "--sequence", "1234", "--port", "22", "--window", "1", "192.0.2.1")
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("--interface dummy0 (%s): %v: %s", tc.want, err, stderr)
		}
	}
	if n := knocksOn(t, l, l.Server); n != knock1234 {
		t.Errorf("refused interfaces sent knocks: %d in all, want %d", n, knock1234)
	}
}
