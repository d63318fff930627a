package cli

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
)

// --watch: the knocks as they arrive, decoded into bursts, with the rules'
// verdict. The capture is in watch_linux.go; this file decodes.

// watchQuiet is how long a source must be quiet for its burst to end: a
// client sends a burst's knocks back to back, its bursts a window apart.
const watchQuiet = 200 * time.Millisecond

// A watcher decodes captured packets into burst lines.
type watcher struct {
	spec  firewall.Spec
	known bool // whether spec's sequence is the real one
	hz    int
	out   io.Writer
	model *firewall.Model // with known only
	epoch time.Time
	// pending is the burst of each source still going on; bursts are the
	// past bursts' start times of each source (without known).
	pending map[netip.Addr]*pendingBurst
	past    map[netip.Addr][]time.Time
	lines   int // burst lines printed
}

type pendingBurst struct {
	first, last time.Time
	knocks      int
	proto       string
	reset       bool // the rules reset the source's hits during the burst
}

func newWatcher(spec firewall.Spec, known bool, hz int, out io.Writer) (*watcher, error) {
	w := &watcher{spec: spec, known: known, hz: hz, out: out,
		pending: map[netip.Addr]*pendingBurst{}, past: map[netip.Addr][]time.Time{}}
	if known {
		m, err := firewall.NewModel(spec, hz, 0)
		if err != nil {
			return nil, err
		}
		w.model = m
	}
	return w, nil
}

// at returns the model's time of t.
func (w *watcher) at(t time.Time) time.Duration {
	if w.epoch.IsZero() {
		w.epoch = t
	}
	return max(t.Sub(w.epoch), 0)
}

// packet takes one captured packet: a UDP datagram or TCP segment from
// src to dport.
func (w *watcher) packet(t time.Time, src netip.Addr, proto firewall.Proto, dport int, syn bool) {
	connPort := w.spec.SecurePort
	if w.spec.DNAT {
		connPort = w.spec.KnockPort
	}
	// With DNAT a SYN to the knock port is a connection attempt, not a knock.
	knock := dport == w.spec.KnockPort && (proto == firewall.UDP || syn && !w.spec.DNAT)
	conn := proto == firewall.TCP && syn && dport == connPort
	if !knock && !conn {
		return
	}
	if p := w.pending[src]; p != nil && t.Sub(p.last) > watchQuiet {
		w.flushOne(src, t)
	}
	if w.model != nil {
		v := w.model.Packet(firewall.Packet{At: w.at(t), Src: src, Proto: proto, DstPort: dport, SYN: syn})
		if conn && v == firewall.Accept {
			w.flushOne(src, t)
			fmt.Fprintf(w.out, "%s %s: connection to port %d accepted by the rules\n", t.Format("15:04:05.000"), src, dport)
			return
		}
		if conn && !knock {
			w.flushOne(src, t)
			fmt.Fprintf(w.out, "%s %s: connection to port %d refused by the rules\n", t.Format("15:04:05.000"), src, dport)
			return
		}
	} else if !knock {
		return
	}
	p := w.pending[src]
	if p == nil {
		p = &pendingBurst{first: t, proto: proto.String()}
		w.pending[src] = p
	}
	p.last = t
	p.knocks++
	if w.model != nil {
		_, reset := w.spec.Chains()
		if d, ok := w.model.Trace().Decider(); ok && d.Chain == reset {
			p.reset = true
		}
	}
}

// flush ends the bursts that have been quiet for watchQuiet at now, all
// of them with force, in source order.
func (w *watcher) flush(now time.Time, force bool) {
	var srcs []netip.Addr
	for src, p := range w.pending {
		if force || now.Sub(p.last) > watchQuiet {
			srcs = append(srcs, src)
		}
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].Less(srcs[j]) })
	for _, src := range srcs {
		w.flushOne(src, now)
	}
}

// flushOne prints src's pending burst, if any.
func (w *watcher) flushOne(src netip.Addr, now time.Time) {
	p := w.pending[src]
	if p == nil {
		return
	}
	delete(w.pending, src)
	w.lines++
	prefix := fmt.Sprintf("%s %s: ", p.first.Format("15:04:05.000"), src)
	if w.model == nil {
		past := w.past[src]
		if n := len(past); n > 0 && p.first.Sub(past[n-1]) > 30*time.Second {
			past = nil
		}
		past = append(past, p.first)
		w.past[src] = past
		line := fmt.Sprintf("burst %d: %d %s knock%s", len(past), p.knocks, p.proto, plural(p.knocks))
		if n := len(past); n > 1 {
			line += fmt.Sprintf(", %.2fs after burst %d", p.first.Sub(past[n-2]).Seconds(), n-1)
		}
		fmt.Fprintf(w.out, "%s%s (give DESTINATION, or --sequence and --window, to tell whether the rules open)\n", prefix, line)
		return
	}
	stamps := w.model.Stamps(src)
	if p.reset {
		fmt.Fprintf(w.out, "%s%d %s knock%s, during which the rules reset this source's hits (a knock too many, or too many in all): the rules will not open\n", prefix, p.knocks, p.proto, plural(p.knocks))
		return
	}
	if len(stamps) == 0 {
		fmt.Fprintf(w.out, "%s%d %s knock%s, and the rules keep no hits for this source: the rules will not open\n", prefix, p.knocks, p.proto, plural(p.knocks))
		return
	}
	clock := firewall.KernelClock{HZ: w.hz, Now: w.model.Jiffies(w.at(now))}
	prog := w.spec.Decode(stamps, w.hz)
	i := len(prog.Bursts) - 1
	b := prog.Bursts[i]
	line := fmt.Sprintf("burst %d: %s", i+1, knockCount(b.Knocks, p.proto, i >= len(prog.Bursts)-prog.Matched))
	if i > 0 {
		line += fmt.Sprintf(", %.2fs after burst %d", float64(b.First-prog.Bursts[i-1].First)/float64(w.hz), i)
	}
	fmt.Fprintf(w.out, "%s%s -> %s\n", prefix, line, verdict(prog, w.spec, true, clock))
}
