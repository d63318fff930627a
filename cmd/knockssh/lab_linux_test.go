package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
)

// TestDemo is what `make demo` runs and shows: a firewall with the seed's
// rules and a real sshd in one namespace; from another, "knockssh lab"
// with a knock stanza logs in through the ssh front end, showing the knock
// timeline; plain ssh without the knock cannot get in.
func TestDemo(t *testing.T) {
	t.Parallel()
	f := newFront(t, labStanza)
	l, kc := f.l, f.kc
	t.Logf("server %s (%s) runs sshd on port 22 behind the seed's portKnockListener (sequence 1234, window 1s)", l.Server.Name, l.ServerIP4)
	t.Logf("knock stanza (%s):\n%s", kc, strings.ReplaceAll(labStanza, "1234", "****"))
	t.Logf("client %s (%s) runs: knockssh --config %s --knock-verbose -F ssh_config lab 'echo ...'", l.Client.Name, l.ClientIP4, filepath.Base(kc))
	demo := l.Client.Command(context.Background(), knocksshBin, "--config", kc, "--knock-verbose", "-F", l.SSH.Config, "lab",
		`echo "logged in as $(id -un) on the server, behind the knock"`)
	demo.Env = append(os.Environ(), "XDG_CACHE_HOME="+l.Dir) // every lab has the same addresses: own lock files
	out, err := demo.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		t.Log("  " + line)
	}
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	if !strings.Contains(string(out), "logged in as root on the server") {
		t.Errorf("demo output lacks the login")
	}
	// The window opens 3W + margin after the first burst; a loaded machine
	// may wake the knocker a little later, never earlier.
	m := regexp.MustCompile(`window open at \+(\d+\.\d+)s`).FindStringSubmatch(string(out))
	if m == nil {
		t.Errorf("demo output lacks the timeline")
	} else if at, _ := strconv.ParseFloat(m[1], 64); at < 3.05 || at > 3.5 {
		t.Errorf("window open at +%.3fs, want +3.050s (3W + margin)", at)
	}
	if strings.Contains(string(out), "1234") {
		t.Error("the timeline shows the sequence")
	}
	// Without the knock, ssh cannot get in.
	out, err = l.Client.Command(context.Background(), "ssh", "-F", l.SSH.Config, "-o", "ConnectTimeout=2", "lab", "true").CombinedOutput()
	if err == nil {
		t.Errorf("ssh without knocking got in: %s", out)
	} else {
		t.Logf("and plain ssh, without the knock: %s", strings.TrimSpace(string(out)))
	}
}

// TestKnockExitsWhenOpen runs the real binary's --knock in the client
// namespace for each protocol and family and connects right after it
// returns: exit 0 means the window is open now.
func TestKnockExitsWhenOpen(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ proto, dst string }{
		{"udp", "192.0.2.1"}, {"tcp", "192.0.2.1"}, {"raw", "192.0.2.1"}, {"udp", "2001:db8::1"}, {"tcp", "[2001:db8::1]"},
	} {
		t.Run(tt.proto+"/"+tt.dst, func(t *testing.T) {
			t.Parallel()
			l := lab.New(t, lab.Options{Sequence: "4242", Window: 1})
			l.Sink(t, 22)
			start := time.Now()
			cmd := l.Client.Command(context.Background(), knocksshBin, "--knock", "--sequence", "4242", "--window", "1", "--port", "22", "--protocol", tt.proto, tt.dst)
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+l.Dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("knockssh --knock: %v: %s", err, out)
			}
			if d := time.Since(start); d < 3*time.Second || d > 4*time.Second {
				t.Errorf("--knock returned after %v, want just over 3s", d)
			}
			host := strings.Trim(tt.dst, "[]")
			nc := l.Client.Command(context.Background(), "bash", "-c", "exec 3<>/dev/tcp/"+host+"/22")
			if out, err := nc.CombinedOutput(); err != nil {
				t.Errorf("connect after --knock: %v: %s", err, out)
			}
		})
	}
}

// TestConcurrentKnockThenConnect: two "knockssh --knock && connect" at once
// on one server. The second knock waits until the first one's window has
// closed, so both connections get through.
func TestConcurrentKnockThenConnect(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	l.Sink(t, 22)
	script := knocksshBin + " --knock --sequence 1234 --window 1 --port 22 192.0.2.1 && exec 3<>/dev/tcp/192.0.2.1/22"
	errs := make(chan error, 2)
	outs := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func() {
			cmd := l.Client.Command(context.Background(), "bash", "-c", script)
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+l.Dir)
			out, err := cmd.CombinedOutput()
			outs <- string(out)
			errs <- err
		}()
	}
	for i := 0; i < 2; i++ {
		if err, out := <-errs, <-outs; err != nil {
			t.Errorf("knock && connect %d: %v: %s", i, err, out)
		}
	}
}
