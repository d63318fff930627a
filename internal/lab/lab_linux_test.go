package lab

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func sendUDP(t *testing.T, l *Lab, dst netip.Addr, port, n int) {
	t.Helper()
	err := l.Client.Do(func() error {
		c, err := net.Dial("udp", netip.AddrPortFrom(dst, uint16(port)).String())
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < n; i++ {
			if _, err := c.Write([]byte{0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecentCountsKnocks(t *testing.T) {
	t.Parallel()
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v4", true: "v6"}[v6], func(t *testing.T) {
			t.Parallel()
			l := New(t, Options{})
			src, dst := l.ClientIP4, l.ServerIP4
			if v6 {
				src, dst = l.ClientIP6, l.ServerIP6
			}
			c := l.Capture(t, "udp")
			sendUDP(t, l, dst, 22, 3)
			time.Sleep(50 * time.Millisecond)
			entries := l.Recent(t)
			if len(entries) != 1 || entries[0].Src != src || len(entries[0].Stamps) != 3 {
				t.Fatalf("recent list %+v, want 3 stamps for %v", entries, src)
			}
			pkts := c.Stop(t)
			if len(pkts) != 3 {
				t.Fatalf("captured %d packets, want 3: %+v", len(pkts), pkts)
			}
			for _, p := range pkts {
				if p.Src != src || p.Dst != dst || p.Proto != "udp" || p.DstPort != 22 {
					t.Errorf("packet %+v", p)
				}
				if d := time.Since(p.Time); d < 0 || d > 10*time.Second {
					t.Errorf("packet timestamp %v is %v away from now", p.Time, d)
				}
			}
			fam := 4
			if v6 {
				fam = 6
			}
			var knockRule *Counter
			for _, c := range l.Counters(t, fam) {
				if c.Chain == "INPUT" && strings.Contains(c.Spec, "-p udp") && strings.Contains(c.Spec, "--set") {
					knockRule = &c
				}
			}
			if knockRule == nil || knockRule.Packets != 3 {
				t.Errorf("UDP knock rule counter %+v, want 3 packets", knockRule)
			}
			l.FlushRecent(t)
			if e := l.Recent(t); len(e) != 0 {
				t.Errorf("after flush: %+v", e)
			}
		})
	}
}

// TestSSHDLogin: both families log in, and the session's shell is the
// second level (SetEnv SHLVL=1), so bash reads none of root's rc files:
// they are the machine's, and may write to stderr (pyenv's rehash does when
// two logins race).
func TestSSHDLogin(t *testing.T) {
	t.Parallel()
	l := New(t, Options{Listener: "none", SSHD: true})
	for _, host := range []string{"lab", "lab6"} {
		out, err := l.Client.Command(context.Background(), "ssh", "-F", l.SSH.Config, host, "echo", "ok", "$SHLVL").CombinedOutput()
		if err != nil || string(out) != "ok 2\n" {
			t.Errorf("ssh %s: %v: %s", host, err, out)
		}
	}
}

func TestTeardownRemovesNamespaces(t *testing.T) {
	t.Parallel()
	var names []string
	t.Run("lab", func(t *testing.T) {
		l := New(t, Options{})
		names = []string{l.Server.Name, l.Client.Name}
	})
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(string(out), n) {
			t.Errorf("namespace %s left behind", n)
		}
	}
}

func TestSeedFunctionSubstitution(t *testing.T) {
	fn, err := Options{Sequence: "9876", Window: 2, KnockPort: 443, SecurePort: 22}.seedFunction()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"KNOCKPORT=443\n", "SECUREPORT=22\n", "KNOCKWINDOW=2\n", "SEQUENCE1=9\n", "SEQUENCE4=6\n"} {
		if !strings.Contains(fn, want) {
			t.Errorf("substituted function lacks %q", want)
		}
	}
	// Everything but the seven assignments is the seed's text.
	if strings.Count(fn, "\n") != strings.Count(seedListener, "\n") {
		t.Error("line count changed")
	}
	if _, err := (Options{Sequence: "12345"}).seedFunction(); err == nil {
		t.Error("a 5-burst sequence was accepted for the seed's function")
	}
}

func TestParseRecent(t *testing.T) {
	e, err := ParseRecent([]byte("src=192.0.2.2 ttl: 64 last_seen: 4295469705 oldest_pkt: 3 4295469704, 4295469704, 4295469705\nsrc=2001:db8::2 ttl: 64 last_seen: 7 oldest_pkt: 1 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(e) != 2 || len(e[0].Stamps) != 3 || e[0].Stamps[2] != 4295469705 || e[1].Src != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("ParseRecent = %+v", e)
	}
	if _, err := ParseRecent([]byte("garbage\n")); err == nil {
		t.Error("garbage parsed")
	}
}
