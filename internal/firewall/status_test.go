package firewall

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/knocker"
)

func TestParseRecent(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		name, in string
		want     []RecentEntry
		err      string
	}{
		{"empty", "", nil, ""},
		{"one", "src=192.0.2.2 ttl: 64 last_seen: 4295469705 oldest_pkt: 3 4295469704, 4295469704, 4295469705\n",
			[]RecentEntry{{Src: src, TTL: 64, LastSeen: 4295469705, Index: 3, Stamps: []uint64{4295469704, 4295469704, 4295469705}}}, ""},
		{"single stamp", "src=2001:0db8:0000:0000:0000:0000:0000:0002 ttl: 255 last_seen: 7 oldest_pkt: 1 7\n",
			[]RecentEntry{{Src: netip.MustParseAddr("2001:db8::2"), TTL: 255, LastSeen: 7, Index: 1, Stamps: []uint64{7}}}, ""},
		{"two and blank", "src=192.0.2.2 ttl: 64 last_seen: 9 oldest_pkt: 1 9\n\nsrc=192.0.2.3 ttl: 0 last_seen: 5 oldest_pkt: 2 4, 5\n",
			[]RecentEntry{{Src: src, TTL: 64, LastSeen: 9, Index: 1, Stamps: []uint64{9}},
				{Src: netip.MustParseAddr("192.0.2.3"), LastSeen: 5, Index: 2, Stamps: []uint64{4, 5}}}, ""},
		{"bad src", "src=192.0.2 ttl: 64 last_seen: 9 oldest_pkt: 1 9\n", nil, "line 1: src:"},
		{"no oldest", "src=192.0.2.2 ttl: 64 last_seen: 9\n", nil, "line 1: want"},
		{"no stamps", "src=192.0.2.2 ttl: 64 last_seen: 9 oldest_pkt: 1\n", nil, "want oldest_pkt and at least one stamp"},
		{"missing comma", "src=192.0.2.2 ttl: 64 last_seen: 9 oldest_pkt: 1 8 9\n", nil, "stamp 1: want a comma"},
		{"bad stamp", "src=192.0.2.2 ttl: 64 last_seen: 9 oldest_pkt: 1 8, x\n", nil, `stamp 2 "x"`},
		{"bad ttl", "src=192.0.2.2 ttl: 300 last_seen: 9 oldest_pkt: 1 9\n", nil, "ttl"},
		{"second line bad", "src=192.0.2.2 ttl: 64 last_seen: 9 oldest_pkt: 1 9\nsrc=x\n", nil, "line 2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRecent([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseRecent error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRecent = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseRecent(f *testing.F) {
	f.Add("src=192.0.2.2 ttl: 64 last_seen: 4295469705 oldest_pkt: 3 4295469704, 4295469704, 4295469705\n")
	f.Add("src=2001:db8::2 ttl: 64 last_seen: 1 oldest_pkt: 1 1\nsrc=192.0.2.3 ttl: 1 last_seen: 2 oldest_pkt: 2 1, 2\n")
	f.Add("src=x ttl: oldest_pkt: ,,")
	f.Fuzz(func(t *testing.T, in string) {
		es, err := ParseRecent([]byte(in))
		if err != nil {
			return
		}
		for _, e := range es {
			if !e.Src.IsValid() || len(e.Stamps) == 0 {
				t.Fatalf("accepted an entry without address or stamps: %+v", e)
			}
			if h := e.Hits(); len(h) != len(e.Stamps) {
				t.Fatalf("Hits lost stamps")
			}
		}
	})
}

// TestHitsWrap: the ring order is sorted by age, also across the jiffies
// wraparound.
func TestHitsWrap(t *testing.T) {
	max := ^uint64(0)
	e := RecentEntry{LastSeen: 3, Stamps: []uint64{2, 3, max - 1, max, 0}}
	if got, want := e.Hits(), []uint64{max - 1, max, 0, 2, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("Hits = %v, want %v", got, want)
	}
}

func TestBursts(t *testing.T) {
	got := Bursts([]uint64{1000, 1100, 1101, 1200, 1200, 1201, 1000 + 1}, 50)
	want := []Burst{{1000, 1001, 2}, {1100, 1101, 2}, {1200, 1201, 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Bursts = %v, want %v", got, want)
	}
}

// knockStamps runs packets through a model and returns the source's stamps.
func knockStamps(t *testing.T, s Spec, hz int, ps []Packet) (*Model, []uint64) {
	t.Helper()
	m, err := NewModel(s, hz, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.feed(ps)
	return m, m.Stamps(ps[0].Src)
}

// TestOpenSpansModel: openSpans agrees, jiffy by jiffy, with the model
// asked "would a SYN be accepted now?" after random knock timelines: right
// ones, extra and missing knocks, bursts early and late.
func TestOpenSpansModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		n := 1 + r.IntN(5)
		seq := make(knocker.Sequence, n)
		for k := range seq {
			seq[k] = 1 + r.IntN(4)
		}
		hz := []int{100, 250}[r.IntN(2)]
		s := Spec{Sequence: seq, Window: 1 + r.IntN(2), KnockPort: 1000, SecurePort: 22}
		w := time.Duration(s.Window) * time.Second
		var ps []Packet
		at := time.Duration(200+r.IntN(1000)) * time.Millisecond
		for k, d := range seq {
			if r.IntN(6) == 0 {
				d += r.IntN(3) - 1
			}
			jitter := time.Duration(r.IntN(300)-150) * time.Millisecond
			if r.IntN(3) != 0 {
				jitter = time.Duration(r.IntN(20)) * time.Millisecond
			}
			start := at + time.Duration(k)*w + jitter
			for j := 0; j < d; j++ {
				ps = append(ps, Packet{At: start + time.Duration(j)*knockGap, Src: client, Proto: UDP, DstPort: 1000})
			}
		}
		if len(ps) == 0 {
			continue
		}
		for j := 1; j < len(ps); j++ {
			ps[j].At = max(ps[j].At, ps[j-1].At)
		}
		m, stamps := knockStamps(t, s, hz, ps)
		if len(stamps) == 0 {
			continue
		}
		spans := s.openSpans(stamps, hz)
		last := ps[len(ps)-1].At
		lastJ := m.Jiffies(last)
		for j := lastJ; j <= lastJ+uint64((n+1)*s.Window*hz); j++ {
			atj := max(time.Duration(j-m.Jiffies(0))*time.Second/time.Duration(hz), last)
			if m.Jiffies(atj) != j {
				t.Fatalf("case %d: time for jiffy %d is off", i, j)
			}
			want := m.Clone().Open(client, atj)
			got := false
			for _, sp := range spans {
				if j >= sp.From && j <= sp.To {
					got = true
				}
			}
			if got != want {
				t.Fatalf("case %d (%d bursts, W=%d, HZ=%d): at jiffy +%d openSpans says %v, the model %v; spans %v (from %d)",
					i, n, s.Window, hz, j-lastJ, got, want, spans, lastJ)
			}
		}
	}
}

func TestDecode(t *testing.T) {
	s := Spec{Sequence: knocker.Sequence{1, 2, 3, 4}, Window: 1, KnockPort: 1000, SecurePort: 22}
	full := KnockTimeline(s.Sequence, time.Second, 0, UDP, 1000, client)
	_, stamps := knockStamps(t, s, 250, full)
	p := s.Decode(stamps, 250)
	if len(p.Bursts) != 4 || p.Matched != 4 || len(p.Open) != 1 {
		t.Fatalf("complete knock: %+v", p)
	}
	if from, to := p.Open[0].From-p.Bursts[3].First, p.Open[0].To-p.Bursts[3].First; from != 1 || to != 250 {
		t.Errorf("complete knock opens at +%d..+%d jiffies after the last burst, want +1..+250", from, to)
	}
	_, stamps = knockStamps(t, s, 250, full[:3]) // bursts 1 and 2
	if p := s.Decode(stamps, 250); len(p.Bursts) != 2 || p.Matched != 2 || p.Open != nil {
		t.Errorf("two bursts: %+v", p)
	}
	wrong := KnockTimeline(knocker.Sequence{1, 3, 3, 4}, time.Second, 0, UDP, 1000, client)
	_, stamps = knockStamps(t, s, 250, wrong)
	if p := s.Decode(stamps, 250); p.Matched != 0 || p.Open != nil {
		t.Errorf("wrong sequence: %+v", p)
	}
	slow := KnockTimeline(s.Sequence, 2*time.Second, 0, UDP, 1000, client)
	_, stamps = knockStamps(t, s, 250, slow)
	if p := s.Decode(stamps, 250); p.Matched != 0 || p.Open != nil {
		t.Errorf("bursts two windows apart: %+v", p)
	}
}

func TestInferHZ(t *testing.T) {
	for _, hz := range []int{100, 250, 300, 1000} {
		for _, up := range []time.Duration{10 * time.Second, 2659 * time.Second, 400 * 24 * time.Hour} {
			j := initialJiffies(hz) + uint64(up.Seconds()*float64(hz)) - 62
			if got, ok := inferHZ(j, up); !ok || got != hz {
				t.Errorf("inferHZ(HZ=%d, up %v) = %d, %v", hz, up, got, ok)
			}
		}
	}
	if _, ok := inferHZ(12345, time.Hour); ok {
		t.Error("inferHZ accepted a counter no HZ explains")
	}
}

// TestKernelClockLongUptime: ages stay right after months of uptime, where
// jiffies·1e9 overflows 64 bits.
func TestKernelClockLongUptime(t *testing.T) {
	const hz = 1000
	up := 400 * 24 * time.Hour
	c := KernelClock{HZ: hz, Now: toJiffies(up, hz)}
	if got := toJiffies(up, hz); got != uint64(400*24*3600*hz) {
		t.Errorf("toJiffies(400 days) = %d", got)
	}
	if got := c.Seconds(c.Now - 2500); got != -2500*time.Millisecond {
		t.Errorf("Seconds(now - 2500 jiffies) = %v, want -2.5s", got)
	}
	if got := c.Seconds(c.Now - uint64(200*24*3600*hz)); got != -200*24*time.Hour {
		t.Errorf("Seconds(200 days ago) = %v", got)
	}
}
