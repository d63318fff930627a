package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/spf13/pflag"
)

// --server-status: what the kernel remembers of knocks, decoded into bursts.

// knownSpec builds the listener for the server-side diagnostics and says
// whether its sequence is known (from DESTINATION's stanza or --sequence).
func knownSpec(o *options, fs *pflag.FlagSet, stderr io.Writer) (firewall.Spec, bool, error) {
	spec, err := serverSpec(o, fs, stderr, false)
	if err != nil {
		return spec, false, err
	}
	if fs.Changed("sequence") {
		warner(stderr)(argvSecretWarning)
	}
	return spec, fs.NArg() == 1 || fs.Changed("sequence"), nil
}

// listName returns --list, else the spec's list.
func listName(o *options, spec firewall.Spec) string {
	if o.list != "" {
		return o.list
	}
	return spec.List()
}

func runStatus(_ context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	spec, known, err := knownSpec(o, fs, s.err)
	if err != nil {
		printErr(s.err, err)
		return exitUsage
	}
	list := listName(o, spec)
	if strings.ContainsAny(list, "/\x00") || list == "" || list == "." || list == ".." {
		fmt.Fprintf(s.err, "knockssh: --list %q is not a list name\n", list)
		return exitUsage
	}
	path := firewall.RecentPath(list)
	data, err := os.ReadFile(path)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(s.err, "knockssh: no recent list %s in this network namespace (%s): are the rules loaded? (see --tag, --list)\n", list, path)
		case errors.Is(err, os.ErrPermission):
			fmt.Fprintf(s.err, "knockssh: %s is not readable: run as root (a list others can read gives the sequence away)\n", path)
		default:
			printErr(s.err, err)
		}
		return exitFail
	}
	entries, err := firewall.ParseRecent(data)
	if err != nil {
		fmt.Fprintf(s.err, "knockssh: %s: %v\n", path, err)
		return exitFail
	}
	clock, err := firewall.ReadKernelClock()
	if err != nil {
		printErr(s.err, err)
		return exitFail
	}
	for _, e := range entries { // the clock was read after the list
		if int64(e.LastSeen-clock.Now) > 0 {
			clock.Now = e.LastSeen
		}
	}
	if o.verbose {
		fmt.Fprintf(s.err, "knockssh: HZ=%d, jiffies %d: %s\n", clock.HZ, clock.Now, clock.Source)
	}
	exact := "exact"
	if !clock.Exact {
		exact = "estimated to a few tenths of a second: run as root for exact ones"
	}
	if len(entries) == 0 {
		fmt.Fprintf(s.out, "%s: no knocks remembered\n", list)
	} else {
		fmt.Fprintf(s.out, "%s: %d source(s); ages %s\n", list, len(entries), exact)
	}
	for _, e := range entries {
		printStatus(s.out, e.Src.String(), e.Hits(), spec, known, clock)
	}
	if o.list == "" {
		printFails(s, spec, clock)
	}
	return exitOK
}

// printFails shows the hardened rules' fail lists, if loaded: per source
// (an IPv4 address, an IPv6 prefix) its fails within the period and
// whether it is dropped, until when.
func printFails(s stdio, spec firewall.Spec, c firewall.KernelClock) {
	limit, period, _ := spec.FailLimits()
	if limit == 0 {
		return
	}
	for _, fam := range []int{4, 6} {
		list := spec.FailList(fam)
		data, err := os.ReadFile(firewall.RecentPath(list))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		var entries []firewall.RecentEntry
		if err == nil {
			entries, err = firewall.ParseRecent(data)
		}
		if err != nil {
			fmt.Fprintf(s.err, "knockssh: %s: %v\n", list, err)
			continue
		}
		fmt.Fprintf(s.out, "%s: %d source(s) with fails (limit %d within %s)\n", list, len(entries), limit, time.Duration(period)*time.Second)
		span := uint64(period) * uint64(c.HZ)
		for _, e := range entries {
			var recent []uint64 // within the period, newest first
			for _, j := range e.Hits() {
				if c.Now-j <= span {
					recent = append(recent, j)
				}
			}
			slices.SortFunc(recent, func(a, b uint64) int { return int(int64(b - a)) })
			line := fmt.Sprintf("%s: %d fail(s) within the period", e.Src, len(recent))
			if len(recent) >= limit {
				line += fmt.Sprintf(": dropped until %s", secs(c.Seconds(recent[limit-1]+span+1)))
			}
			fmt.Fprintln(s.out, line)
		}
	}
}

// printStatus prints one source's hits, decoded into bursts, and the
// verdict.
func printStatus(w io.Writer, src string, hits []uint64, spec firewall.Spec, known bool, c firewall.KernelClock) {
	fmt.Fprintf(w, "%s: %d hit(s), the last at %s\n", src, len(hits), secs(c.Seconds(hits[len(hits)-1])))
	var p firewall.Progress
	if known {
		p = spec.Decode(hits, c.HZ)
	} else {
		p.Bursts = firewall.Bursts(hits, firewall.BurstGap(0, c.HZ))
	}
	for i := range p.Bursts {
		fmt.Fprintf(w, "  %s\n", burstLine(i, p, known, c))
	}
	fmt.Fprintf(w, "  -> %s\n", verdict(p, spec, known, c))
}

// burstLine describes burst i of p. When the sequence is known, a burst
// that matches it is shown without its count: the counts of a matching
// knock are the sequence.
func burstLine(i int, p firewall.Progress, known bool, c firewall.KernelClock) string {
	b := p.Bursts[i]
	line := fmt.Sprintf("burst %d: %s at %s", i+1, knockCount(b.Knocks, "", known && i >= len(p.Bursts)-p.Matched), secs(c.Seconds(b.First)))
	if i > 0 {
		line += fmt.Sprintf(" (%.2fs after burst %d)", float64(b.First-p.Bursts[i-1].First)/float64(c.HZ), i)
	}
	return line
}

// verdict says how far the knock got and whether the rules will open. It
// never reveals the sequence: only whether observed bursts match it.
func verdict(p firewall.Progress, spec firewall.Spec, known bool, c firewall.KernelClock) string {
	n := len(spec.Sequence)
	if !known {
		return fmt.Sprintf("%d burst%s (give DESTINATION, or --sequence and --window, to tell whether the rules open)", len(p.Bursts), plural(len(p.Bursts)))
	}
	for _, sp := range p.Open {
		if int64(sp.To-c.Now) < 0 {
			continue
		}
		until := secs(c.Seconds(sp.To + 1))
		if int64(sp.From-c.Now) <= 0 {
			return fmt.Sprintf("complete: the rules will open: a connection from this source is accepted now, until %s", until)
		}
		return fmt.Sprintf("complete: the rules will open: a connection from this source is accepted from %s until %s", secs(c.Seconds(sp.From)), until)
	}
	if len(p.Open) > 0 {
		last := p.Open[len(p.Open)-1]
		return fmt.Sprintf("complete, but no connection came while the rules were open (until %s): the hits expire", secs(c.Seconds(last.To+1)))
	}
	if len(p.Bursts) == 0 {
		return "no bursts"
	}
	switch k := p.Matched; {
	case k == n:
		return fmt.Sprintf("all %d bursts, but the rules will not open (a knock too many, or a burst too early or late)", n)
	case k == 0:
		return "the last burst does not start the sequence (wrong count or timing): the rules will not open"
	default:
		last := p.Bursts[len(p.Bursts)-1].First
		due := last + uint64(spec.Window*c.HZ)
		if int64(c.Now-due) <= int64(spec.Window*c.HZ/2) {
			return fmt.Sprintf("in progress: burst %d of %d matches, burst %d due at %s", k, n, k+1, secs(c.Seconds(due)))
		}
		return fmt.Sprintf("stalled after burst %d of %d: burst %d never came, the rules will not open", k, n, k+1)
	}
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%+.2fs", d.Seconds())
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// knockCount says how many knocks (of proto, if given) a burst had, or,
// for a burst matching the sequence, only that it matched.
func knockCount(n int, proto string, matches bool) string {
	if proto != "" {
		proto += " "
	}
	if matches {
		return proto + "knocks as the sequence wants"
	}
	return fmt.Sprintf("%d %sknock%s", n, proto, plural(n))
}
