package knocker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/knocker"
)

// accepted counts the connections a server-side listener accepts, so a test
// knows whether a connection really got through the firewall (a client-side
// connect can only succeed through it, but this double-checks the source).
type acceptLog struct {
	ch chan netip.Addr
}

func serve(t *testing.T, l *lab.Lab, port int) *acceptLog {
	t.Helper()
	a := &acceptLog{ch: make(chan netip.Addr, 16)}
	for _, network := range []string{"tcp4", "tcp6"} {
		ln := l.Listen(t, network, port)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				a.ch <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
				io.WriteString(c, "hello\n")
				c.Close()
			}
		}()
	}
	return a
}

// dialFromClient runs knocker.Dial inside the client namespace.
// Every lab has the same addresses, so each test gets its own lock
// directory unless it shares one on purpose.
func dialFromClient(t *testing.T, l *lab.Lab, cfg knocker.Config, address string) error {
	t.Helper()
	if cfg.LockDir == "" {
		cfg.LockDir = l.Dir
	}
	return l.Client.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := knocker.Dial(ctx, cfg, address)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 6)
		if _, err := io.ReadFull(c, buf); err != nil {
			return fmt.Errorf("reading greeting: %w", err)
		}
		if string(buf) != "hello\n" {
			return fmt.Errorf("greeting %q", buf)
		}
		return nil
	})
}

func TestLabKnockOpens(t *testing.T) {
	t.Parallel()
	type tc struct {
		name     string
		seq      string
		window   int
		proto    knocker.Protocol
		v6       bool
		dnat     bool
		listener string // "" = the seed's function (4 bursts only)
		source   bool   // bind knocks and connection to the client's address
	}
	cases := []tc{
		{name: "udp/v4/W1", seq: "1234", window: 1, proto: knocker.UDP},
		{name: "tcp/v4/W1", seq: "1234", window: 1, proto: knocker.TCP},
		{name: "raw/v4/W1", seq: "1234", window: 1, proto: knocker.Raw},
		{name: "udp/v6/W1", seq: "1234", window: 1, proto: knocker.UDP, v6: true},
		{name: "tcp/v6/W1", seq: "4321", window: 1, proto: knocker.TCP, v6: true},
		{name: "raw/v6/W1", seq: "2222", window: 1, proto: knocker.Raw, v6: true},
		{name: "udp/v4/W2", seq: "9191", window: 2, proto: knocker.UDP},
		{name: "tcp/v6/W2", seq: "1357", window: 2, proto: knocker.TCP, v6: true},
		{name: "dnat/udp/v4", seq: "1234", window: 1, proto: knocker.UDP, dnat: true},
		{name: "source/tcp/v4", seq: "1234", window: 1, proto: knocker.TCP, source: true},
		{name: "source/raw/v6", seq: "1234", window: 1, proto: knocker.Raw, v6: true, source: true},
		{name: "dnat/udp/v6", seq: "3141", window: 1, proto: knocker.UDP, v6: true, dnat: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := lab.Options{Sequence: c.seq, Window: c.window, Listener: c.listener}
			knockPort, connectPort := 22, 22
			if c.dnat {
				o.DNAT, o.KnockPort, o.SecurePort = true, 443, 22
				knockPort, connectPort = 443, 443
			}
			l := lab.New(t, o)
			acc := serve(t, l, 22)
			server, client := l.ServerIP4, l.ClientIP4
			if c.v6 {
				server, client = l.ServerIP6, l.ClientIP6
			}
			seq, err := knocker.ParseSequence(c.seq)
			if err != nil {
				t.Fatal(err)
			}
			cfg := knocker.Config{
				Host: server.String(), Port: knockPort, Sequence: seq, Protocol: c.proto,
				Window: time.Duration(c.window) * time.Second,
			}
			if c.source {
				cfg.Source = client
			}
			start := time.Now()
			if err := dialFromClient(t, l, cfg, net.JoinHostPort("", fmt.Sprint(connectPort))); err != nil {
				t.Fatalf("Dial: %v", err)
			}
			elapsed := time.Since(start)
			if got := <-acc.ch; got != client {
				t.Errorf("server accepted a connection from %v, want %v", got, client)
			}
			floor := time.Duration(len(seq)-1) * cfg.Window
			if elapsed < floor || elapsed > floor+500*time.Millisecond {
				t.Errorf("connected after %v, want just over %v", elapsed, floor)
			}
			// The ACCEPT rule removed the entry: nothing is left to poison the next knock.
			if e := l.Recent(t); len(e) != 0 {
				t.Errorf("recent list after the connection: %+v, want empty", e)
			}
		})
	}
}

// TestLabWrongSequenceNeverOpens knocks with sequences that are not the
// server's 1234 and do not contain it. (A sequence that contains it, such as
// 12345, sends the secret; and the seed's rules check the first burst only as
// "at least d1", which TestLabSeedLargerFirstBurst pins.)
//
// 1235 is tried with UDP only: here the knock port is the secure port, so
// over TCP the fifth knock of the last burst is a connection attempt made
// after a complete 1234, and the rules accept it whenever it lands in a later
// jiffy than 3W after the third burst (firewall's TestTCPKnockAfterPattern
// pins this; in the lab about one run in two hundred).
func TestLabWrongSequenceNeverOpens(t *testing.T) {
	t.Parallel()
	both := []knocker.Protocol{knocker.UDP, knocker.TCP}
	for _, tc := range []struct {
		wrong  string
		protos []knocker.Protocol
	}{
		{"1235", []knocker.Protocol{knocker.UDP}}, {"1243", both}, {"2134", both},
		{"1134", both}, {"4321", both}, {"123", both}, {"9999", both},
	} {
		wrong := tc.wrong
		for _, proto := range tc.protos {
			t.Run(wrong+"/"+proto.String(), func(t *testing.T) {
				t.Parallel()
				l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
				acc := serve(t, l, 22)
				seq, _ := knocker.ParseSequence(wrong)
				cfg := knocker.Config{Host: l.ServerIP4.String(), Port: 22, Sequence: seq, Protocol: proto, Window: time.Second, Trace: func(e knocker.Event) { t.Log(e) }}
				err := dialFromClient(t, l, cfg, ":22")
				logCounters := func() {
					for _, c := range l.Counters(t, 4) {
						if c.Packets > 0 {
							t.Logf("%s #%d: %d packets: %s", c.Chain, c.Rule, c.Packets, c.Spec)
						}
					}
				}
				if !errors.Is(err, knocker.ErrNoAnswer) {
					logCounters()
					t.Fatalf("Dial with a wrong sequence: %v, want ErrNoAnswer", err)
				}
				select {
				case a := <-acc.ch:
					logCounters()
					t.Fatalf("server accepted a connection from %v", a)
				default:
				}
			})
		}
	}
}

// packets returns the packet count of the first counter match takes, 0
// when none.
func packets(cs []lab.Counter, match func(lab.Counter) bool) uint64 {
	for _, c := range cs {
		if match(c) {
			return c.Packets
		}
	}
	return 0
}

// accepts matches the check chain's ACCEPT rule: the connections the knock
// let in.
func accepts(c lab.Counter) bool {
	return strings.HasPrefix(c.Chain, "CHECKKNOCKS") && strings.HasSuffix(c.Spec, "-j ACCEPT")
}

// TestLabShortLastBurstOnOnePort pins what the second SYN inside the window
// does to the seed's rules when the secure port is the knock port: the
// first SYN, meeting 1233, returns from CHECKKNOCKS and counts as a knock,
// the last burst's fourth, and the second SYN opens, as the model says
// (TestModelWrongSequence). It takes nothing from the rules' strength: any
// client may send 1234 with its last knock a SYN. Shown by the counters:
// one SYN counted as a knock, one accepted.
func TestLabShortLastBurstOnOnePort(t *testing.T) {
	t.Parallel()
	for _, proto := range []knocker.Protocol{knocker.UDP, knocker.TCP} {
		t.Run(proto.String(), func(t *testing.T) {
			t.Parallel()
			l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
			serve(t, l, 22)
			seq, _ := knocker.ParseSequence("1233")
			cfg := knocker.Config{Host: l.ServerIP4.String(), Port: 22, Sequence: seq, Protocol: proto, Window: time.Second, Trace: func(e knocker.Event) { t.Log(e) }}
			if err := dialFromClient(t, l, cfg, ":22"); err != nil {
				t.Fatalf("1233 for 1234 with a second SYN: %v, want open", err)
			}
			counters := l.Counters(t, 4)
			syns := packets(counters, func(c lab.Counter) bool {
				return c.Chain == "INPUT" && strings.Contains(c.Spec, "--tcp-flags") && strings.Contains(c.Spec, "--set")
			})
			accepted := packets(counters, accepts)
			wantSYNs := uint64(1) // the first connection's SYN
			if proto == knocker.TCP {
				wantSYNs += 9 // and the knocks
			}
			if syns != wantSYNs || accepted != 1 {
				t.Errorf("%d SYNs counted as knocks and %d accepted, want %d and 1", syns, accepted, wantSYNs)
			}
		})
	}
}

// TestLabSeedLargerFirstBurst pins a weakness of the seed's rules: the
// first burst is only checked as "at least d1" (the CHECKKNOCKS_ RETURN rule
// is a --hitcount SEQSUM lower bound, and the SEQSUM+1 reset rule is never
// reached by the connecting SYN), so with UDP knocks 2234 opens a server
// whose sequence is 1234. knockssh's generated rules keep the seed's
// behaviour, this included (firewall's TestSequences).
func TestLabSeedLargerFirstBurst(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	serve(t, l, 22)
	seq, _ := knocker.ParseSequence("2234")
	cfg := knocker.Config{Host: l.ServerIP4.String(), Port: 22, Sequence: seq, Protocol: knocker.UDP, Window: time.Second}
	if err := dialFromClient(t, l, cfg, ":22"); err != nil {
		t.Fatalf("2234 against the seed's 1234 rules: %v; the seed's weakness is gone", err)
	}
}

func TestLabNoKnockNoConnection(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	serve(t, l, 22)
	err := l.Client.Do(func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", net.JoinHostPort(l.ServerIP4.String(), "22"))
		if err == nil {
			c.Close()
			return errors.New("connected without knocking")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLabOneSYNPerKnock proves with a capture on the server that a TCP (and
// raw) knock is exactly one SYN, never retransmitted.
func TestLabOneSYNPerKnock(t *testing.T) {
	t.Parallel()
	for _, proto := range []knocker.Protocol{knocker.TCP, knocker.Raw} {
		for _, v6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/v6=%v", proto, v6), func(t *testing.T) {
				t.Parallel()
				l := lab.New(t, lab.Options{Sequence: "1234", Window: 1, KnockPort: 443, SecurePort: 22})
				dst := l.ServerIP4
				if v6 {
					dst = l.ServerIP6
				}
				capture := l.Capture(t, "tcp dst port 443")
				const n = 7
				err := l.Client.Do(func() error {
					s, err := knocker.NewSender(proto, knocker.Target{Addr: netip.AddrPortFrom(dst, 443)})
					if err != nil {
						return err
					}
					defer s.Close()
					return s.Burst(n)
				})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(1500 * time.Millisecond) // past the 1 s initial RTO
				pkts := capture.Stop(t)
				ports := map[int]bool{}
				for _, p := range pkts {
					if !p.SYN || p.ACK || p.DstPort != 443 {
						t.Errorf("unexpected packet %+v", p)
					}
					ports[p.SrcPort] = true
				}
				if len(pkts) != n || len(ports) != n {
					t.Errorf("captured %d SYNs from %d source ports, want exactly %d from %d", len(pkts), len(ports), n, n)
				}
			})
		}
	}
}

// TestLabManyBursts knocks with 1, 2, 5 and 7 bursts against the seed's
// rules generalized by the firewall package.
func TestLabManyBursts(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"7", "31", "31425", "1231231"} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			seq, _ := knocker.ParseSequence(s)
			spec := firewall.Spec{Sequence: seq, Window: 1, KnockPort: 22, SecurePort: 22}
			l := lab.New(t, lab.Options{Sequence: s, Window: 1, Listener: spec.Shell("INPUT")})
			acc := serve(t, l, 22)
			cfg := knocker.Config{Host: l.ServerIP4.String(), Port: 22, Sequence: seq, Protocol: knocker.UDP, Window: time.Second}
			if err := dialFromClient(t, l, cfg, ":22"); err != nil {
				t.Fatalf("Dial: %v", err)
			}
			<-acc.ch
			// One burst short never opens.
			short := seq[:len(seq)-1]
			if len(short) == 0 {
				return
			}
			cfg.Sequence = short
			if err := dialFromClient(t, l, cfg, ":22"); !errors.Is(err, knocker.ErrNoAnswer) {
				t.Errorf("a burst short: %v, want ErrNoAnswer", err)
			}
		})
	}
}

// TestLabRetryAfterStaleHits: someone (a crashed earlier run) left knocks
// that spoil the first attempt; the engine waits them out, clears the list
// and opens on the retry.
func TestLabRetryAfterStaleHits(t *testing.T) {
	t.Parallel()
	for _, proto := range []knocker.Protocol{knocker.UDP, knocker.TCP} {
		t.Run(proto.String(), func(t *testing.T) {
			t.Parallel()
			l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
			serve(t, l, 22)
			seq, _ := knocker.ParseSequence("1234")
			var attempts int
			cfg := knocker.Config{Host: l.ServerIP4.String(), Port: 22, Sequence: seq, Protocol: proto, Window: time.Second, Retries: 2,
				Trace: func(e knocker.Event) {
					if e.Kind == knocker.EventDial {
						attempts = e.Attempt
					}
				}}
			err := l.Client.Do(func() error {
				s, err := knocker.NewSender(knocker.UDP, knocker.Target{Addr: netip.AddrPortFrom(l.ServerIP4, 22)})
				if err != nil {
					return err
				}
				defer s.Close()
				return s.Burst(3)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := dialFromClient(t, l, cfg, ":22"); err != nil {
				t.Fatalf("Dial after stale hits: %v", err)
			}
			if attempts != 2 {
				t.Errorf("opened on attempt %d, want 2 (the stale hits spoil the first)", attempts)
			}
		})
	}
}

// TestLabConcurrentDialsSerialize: four Dials to one server at once would
// interleave their knocks and all fail; the per-target lock makes them take
// turns, and all four connect.
func TestLabConcurrentDialsSerialize(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Sequence: "1234", Window: 1})
	acc := serve(t, l, 22)
	seq, _ := knocker.ParseSequence("1234")
	cfg := knocker.Config{Host: l.ServerIP4.String(), Port: 22, Sequence: seq, Window: time.Second, LockDir: l.Dir}
	const n = 4
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { errs <- dialFromClient(t, l, cfg, ":22") }()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("dial %d: %v", i, err)
		}
	}
	if len(acc.ch) != n {
		t.Errorf("server accepted %d connections, want %d", len(acc.ch), n)
	}
}

// TestLabSecondSYN: the server drops the first SYN to the secure port (the
// kernel would retransmit it after 1 s, past a 1 s window); the second
// connection of the window gets in on the first attempt. Shown by the
// counters: the drop rule met one SYN, the rules accepted one.
func TestLabSecondSYN(t *testing.T) {
	t.Parallel()
	for _, proto := range []knocker.Protocol{knocker.UDP, knocker.TCP} {
		t.Run(proto.String(), func(t *testing.T) {
			t.Parallel()
			l := lab.New(t, lab.Options{Sequence: "1234", Window: 1, KnockPort: 443, SecurePort: 22})
			serve(t, l, 22)
			// nth mode with --packet 0 matches the first SYN, and the next
			// a thousand later.
			l.Server.Run(t, "iptables", "-t", "raw", "-I", "PREROUTING", "-i", "eth0", "-p", "tcp", "--syn", "--dport", "22",
				"-m", "statistic", "--mode", "nth", "--every", "1000", "--packet", "0", "-j", "DROP")
			seq, _ := knocker.ParseSequence("1234")
			attempts := 0
			cfg := knocker.Config{Host: l.ServerIP4.String(), Port: 443, Sequence: seq, Protocol: proto, Window: time.Second, Retries: 2,
				Trace: func(e knocker.Event) {
					t.Log(e)
					if e.Kind == knocker.EventDial {
						attempts = e.Attempt
					}
				}}
			if err := dialFromClient(t, l, cfg, ":22"); err != nil {
				t.Fatalf("Dial with the first SYN dropped: %v", err)
			}
			if attempts != 1 {
				t.Errorf("opened on attempt %d, want 1", attempts)
			}
			dropped := packets(l.TableCounters(t, 4, "raw"), func(c lab.Counter) bool {
				return c.Chain == "PREROUTING" && strings.Contains(c.Spec, "statistic")
			})
			accepted := packets(l.Counters(t, 4), accepts)
			if dropped != 1 || accepted != 1 {
				t.Errorf("%d SYNs dropped and %d accepted, want 1 and 1", dropped, accepted)
			}
		})
	}
}

// TestLabTCPKnockNeverConnects: a TCP knock is one SYN and never a
// connection, even where the server answers at once (here the port is
// plainly open, as for a SYN of a clear that meets stale hits and passes
// the rules): the server counts every SYN, and its listener accepts none.
func TestLabTCPKnockNeverConnects(t *testing.T) {
	t.Parallel()
	l := lab.New(t, lab.Options{Listener: "none"})
	acc := serve(t, l, 22)
	const knocks = 50
	err := l.Client.Do(func() error {
		s, err := knocker.NewSender(knocker.TCP, knocker.Target{Addr: netip.AddrPortFrom(l.ServerIP4, 22)})
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Burst(knocks)
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // for an accept to show, if one were coming
	select {
	case a := <-acc.ch:
		t.Fatalf("the server accepted a connection from %v: a knock's SYN-ACK completed a handshake", a)
	default:
	}
	open := func(c lab.Counter) bool {
		return c.Chain == "INPUT" && strings.HasSuffix(c.Spec, "--dport 22 -j ACCEPT")
	}
	if n := packets(l.Counters(t, 4), open); n != knocks {
		t.Errorf("the server counted %d SYNs, want %d, one per knock", n, knocks)
	}
}
