package firewall_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/lab"
)

// TestRestoreMatchesSeed is the differential test of the restore form: for
// every timeline of diff_linux_test.go (right sequence, wrong sequences, too
// many knocks, stale hits, both reset paths, TCP and UDP knocks, IPv4 and
// IPv6, DNAT), one lab runs the seed's portKnockListener verbatim and
// another the file "knockssh --rules" prints, loaded with iptables-restore
// and ip6tables-restore; the client replays the timeline in both at once,
// and the per-rule packet counters (the seed's INPUT rules against the
// listener chain's), the DNAT rules' counters and what is left in the
// recent list must be identical. One thread replays it to both labs in
// step (sendTimelineAll), so that load never times them apart.
func TestRestoreMatchesSeed(t *testing.T) {
	t.Parallel()
	for _, tl := range timelines {
		tl := tl.withDefaults()
		tl.seed = true
		t.Run(tl.name, func(t *testing.T) {
			t.Parallel()
			spec := tl.spec(t)
			script := fmt.Sprintf("${IPTABLES}-restore --noflush <<'EOF'\n%sEOF\n", spec.Restore(firewall.RestoreOptions{}))
			labs := []*lab.Lab{
				lab.New(t, lab.Options{Sequence: tl.seq, Window: 1, KnockPort: tl.knock, SecurePort: tl.secure, DNAT: tl.dnat, Listener: "seed"}),
				lab.New(t, lab.Options{Sequence: tl.seq, Window: 1, KnockPort: tl.knock, SecurePort: tl.secure, Listener: script}),
			}
			if err := sendTimelineAll(labs, tl); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			seed, gen := observe(t, labs[0], tl, spec, true), observe(t, labs[1], tl, spec, false)
			if !reflect.DeepEqual(seed, gen) {
				t.Errorf("the seed's rules and the restore file disagree\nseed:    %v\nrestore: %v", seed, gen)
			}
			if tl.name == "right-udp" && seed["accepted"] != 1 {
				t.Errorf("right-udp: %d connections accepted, want 1", seed["accepted"])
			}
		})
	}
}

// observe returns the listener's counters under common names (the seed's
// INPUT rules after the lab's three are the restore form's KNOCKS_<tag>
// rules), the DNAT rules' counters, the hits left for the client and the
// connections accepted.
func observe(t *testing.T, l *lab.Lab, tl timeline, spec firewall.Spec, seed bool) map[string]uint64 {
	fam, src := 4, l.ClientIP4
	if tl.v6 {
		fam, src = 6, l.ClientIP6
	}
	check, reset := spec.Chains()
	out := map[string]uint64{}
	for _, c := range l.Counters(t, fam) {
		switch {
		case seed && c.Chain == "INPUT" && c.Rule > 3:
			out[fmt.Sprintf("%s#%d", spec.Listener(), c.Rule-3)] = c.Packets
		case c.Chain == spec.Listener() || c.Chain == check || c.Chain == reset:
			out[fmt.Sprintf("%s#%d", c.Chain, c.Rule)] = c.Packets
		}
		if c.Chain == check && c.Rule == 2*len(spec.Sequence) { // the seed's ACCEPT
			out["accepted"] = c.Packets
		}
	}
	if tl.dnat {
		for _, table := range []string{"mangle", "nat"} {
			for _, c := range l.TableCounters(t, fam, table) {
				if (seed && c.Chain == "PREROUTING") || (!seed && c.Chain == spec.Listener()) {
					out[fmt.Sprintf("%s %s#%d", table, spec.Listener(), c.Rule)] = c.Packets
				}
			}
		}
	}
	out["stamps"] = 1 << 32 // no entry
	for _, e := range l.Recent(t) {
		if e.Src == src {
			out["stamps"] = uint64(len(e.Stamps))
		}
	}
	return out
}
