package knocker_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
	"github.com/knockssh/knockssh/knocker"
)

// sleepClock is the naive baseline: time.Sleep alone, no active wait.
type sleepClock struct{}

func (sleepClock) Now() time.Time { return time.Now() }
func (sleepClock) SleepUntil(ctx context.Context, t time.Time) error {
	time.Sleep(time.Until(t))
	return ctx.Err()
}

// BenchmarkKnockTiming measures, from a packet capture on the server, how
// far each burst's first packet is from its schedule (release error) and
// how long after 3W the connection's SYN arrives (time to open), for the
// engine's clock and for a naive time.Sleep baseline in the same run.
// make bench runs it; it takes about a minute.
func BenchmarkKnockTiming(b *testing.B) {
	const attempts = 10
	seq, _ := knocker.ParseSequence("1234")
	results := map[string][2][]time.Duration{}
	for i := 0; i < b.N; i++ {
		for _, clk := range []struct {
			name string
			c    knocker.Clock
		}{{"engine", knocker.SystemClock}, {"sleep", sleepClock{}}} {
			l := lab.New(b, lab.Options{Sequence: "1234", Window: 1})
			l.Sink(b, 22)
			capture := l.Capture(b, "dst port 22")
			err := l.Client.Do(func() error {
				knocks, err := knocker.NewSender(knocker.UDP, knocker.Target{Addr: netip.AddrPortFrom(l.ServerIP4, 22)})
				if err != nil {
					return err
				}
				defer knocks.Close()
				for a := 0; a < attempts; a++ {
					e := &knocker.Engine{Sequence: seq, Window: time.Second, Margin: knocker.DefaultMargin, Knocks: knocks, Clock: clk.c,
						Dial: func(ctx context.Context) (net.Conn, error) {
							var d net.Dialer
							return d.DialContext(ctx, "tcp", "192.0.2.1:22")
						}}
					c, err := e.Open(context.Background())
					if err != nil {
						return err
					}
					c.Close()
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			pkts := capture.Stop(b)
			release, open := analyse(pkts, seq)
			r := results[clk.name]
			r[0], r[1] = append(r[0], release...), append(r[1], open...)
			results[clk.name] = r
		}
	}
	e, s := results["engine"], results["sleep"]
	rows := []struct {
		what   string
		eng, b []time.Duration
		p      float64
	}{
		{"burst release error, median", e[0], s[0], 0.5},
		{"burst release error, p99", e[0], s[0], 0.99},
		{"time to open - 3W, median", e[1], s[1], 0.5},
		{"time to open - 3W, p99", e[1], s[1], 0.99},
	}
	fmt.Fprintf(os.Stdout, "\n%-30s %12s %14s %8s\n", "figure (W=1s, 1234, UDP)", "knockssh", "sleep baseline", "ratio")
	for _, r := range rows {
		ev, bv := quantile(r.eng, r.p), quantile(r.b, r.p)
		fmt.Fprintf(os.Stdout, "%-30s %12v %14v %8.2f\n", r.what, ev, bv, float64(ev)/float64(bv))
	}
	fmt.Fprintf(os.Stdout, "(%d release samples, %d opens per clock)\n\n", len(e[0]), len(e[1]))
	b.ReportMetric(float64(quantile(e[0], 0.99).Microseconds()), "release-p99-µs")
	b.ReportMetric(float64(quantile(e[1], 0.5).Microseconds())/1000, "open-3W-median-ms")
}

// analyse splits a capture into attempts: a knock burst starts with a UDP
// packet after a gap; the connect is the TCP SYN.
func analyse(pkts []lab.Packet, seq knocker.Sequence) (release, open []time.Duration) {
	var starts []time.Time
	var last time.Time
	for _, p := range pkts {
		switch {
		case p.Proto == "udp":
			if last.IsZero() || p.Time.Sub(last) > 100*time.Millisecond {
				starts = append(starts, p.Time)
			}
			last = p.Time
		case p.Proto == "tcp" && p.SYN && !p.ACK:
			if len(starts) == len(seq) {
				for k := 1; k < len(seq); k++ {
					d := starts[k].Sub(starts[0]) - time.Duration(k)*time.Second
					release = append(release, d.Abs())
				}
				open = append(open, p.Time.Sub(starts[0])-3*time.Second)
			}
			starts, last = nil, time.Time{}
		}
	}
	return release, open
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}
