package firewall

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/knockssh/knockssh/knocker"
)

var client = netip.MustParseAddr("192.0.2.2")

func seq(t testing.TB, s string) knocker.Sequence {
	t.Helper()
	q, err := knocker.ParseSequence(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func model(t testing.TB, s Spec) *Model {
	t.Helper()
	m, err := NewModel(s, 250, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func feed(m *Model, ps []Packet) {
	for _, p := range ps {
		m.Packet(p)
	}
}

const jiffy = 4 * time.Millisecond // at HZ=250

// TestWindowEdges: the secure port opens only in (3W, 4W] after the first
// burst, with jiffy precision.
func TestWindowEdges(t *testing.T) {
	for _, w := range []int{1, 2} {
		W := time.Duration(w) * time.Second
		for _, tt := range []struct {
			at   time.Duration
			open bool
		}{
			{3 * W, false},
			{3*W + jiffy - time.Microsecond, false},
			{3*W + jiffy, true},
			{3*W + 5*time.Millisecond, true},
			{4 * W, true},
			{4*W + jiffy - time.Microsecond, true},
			{4*W + jiffy, false},
			{2 * W, false},
		} {
			m := model(t, Spec{Sequence: seq(t, "1234"), Window: w, KnockPort: 22, SecurePort: 22})
			// The knocks of a burst are 1 µs apart: put them all in the first µs.
			feed(m, KnockTimeline(seq(t, "1234"), W, 0, UDP, 22, client))
			if got := m.Open(client, tt.at); got != tt.open {
				t.Errorf("W=%d: connect at %v: open=%v, want %v (trace %v)", w, tt.at, got, tt.open, m.Trace())
			}
		}
	}
}

func TestSequences(t *testing.T) {
	tests := []struct {
		server, client string
		proto          Proto
		open           bool
	}{
		{"1234", "1234", UDP, true},
		{"1234", "1234", TCP, true},
		{"9191", "9191", UDP, true},
		{"1234", "1233", UDP, false},
		{"1234", "1235", UDP, false},
		{"1234", "1243", UDP, false},
		{"1234", "2134", UDP, false},
		{"1234", "1134", UDP, false},
		{"1234", "4321", TCP, false},
		{"1234", "123", UDP, false},
		// The seed's weakness: the first burst is checked as "at least d1"
		// (the hardened rules refuse it: TestSequences below).
		{"1234", "2234", UDP, true},
		{"1234", "2234", TCP, false}, // the 11th TCP knock runs the checks and resets
		{"5", "5", UDP, true},
		{"12", "12", TCP, true},
		{"31425", "31425", UDP, true},
		{"31425", "31424", UDP, false},
		{"1111111111111111", "1111111111111111", UDP, true},
	}
	for _, seed := range []bool{true, false} {
		for _, tt := range tests {
			s := seq(t, tt.server)
			m := model(t, Spec{Sequence: s, Window: 1, KnockPort: 22, SecurePort: 22, Seed: seed})
			c := seq(t, tt.client)
			feed(m, KnockTimeline(c, time.Second, 0, tt.proto, 22, client))
			at := time.Duration(len(c)-1)*time.Second + 50*time.Millisecond
			want := tt.open && (seed || tt.client != "2234")
			if got := m.Open(client, at); got != want {
				t.Errorf("seed rules %v: server %d bursts, client %s (%v): open=%v, want %v; trace %v", seed, len(s), tt.client, tt.proto, got, want, m.Trace())
			}
		}
	}
}

func TestDNAT(t *testing.T) {
	for _, proto := range []Proto{UDP, TCP} {
		m := model(t, Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 443, SecurePort: 22, DNAT: true})
		feed(m, KnockTimeline(seq(t, "1234"), time.Second, 0, proto, 443, client))
		if got, want := m.Open(client, 3050*time.Millisecond), proto == UDP; got != want {
			t.Errorf("DNAT with %v knocks: open=%v, want %v", proto, got, want)
		}
	}
	m := model(t, Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 443, SecurePort: 22, DNAT: true})
	if v := m.Packet(Packet{Src: client, Proto: TCP, DstPort: 22, SYN: true}); v != Drop {
		t.Errorf("direct TCP to the secure port: %v, want drop", v)
	}
}

// TestResets covers the seed's two cleanup rules.
func TestResets(t *testing.T) {
	s := Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 443, SecurePort: 22}
	// SEQSUM+1 hits within 4W: the next packet of any kind removes the list.
	m := model(t, s)
	for i := 0; i < 11; i++ {
		m.Packet(Packet{At: time.Millisecond, Src: client, Proto: UDP, DstPort: 443})
	}
	if n := len(m.Stamps(client)); n != 11 {
		t.Fatalf("%d stamps, want 11", n)
	}
	if v := m.Packet(Packet{At: 2 * time.Millisecond, Src: client, Proto: UDP, DstPort: 9}); v != Drop || m.Stamps(client) != nil {
		t.Errorf("packet after 11 hits: %v, stamps %v; want drop and no entry", v, m.Stamps(client))
	}
	// 2·SEQSUM+1 hits of any age: reset too.
	m = model(t, s)
	for i := 0; i < 21; i++ {
		m.Packet(Packet{At: time.Duration(i) * 5 * time.Second, Src: client, Proto: UDP, DstPort: 443})
	}
	if v := m.Packet(Packet{At: 200 * time.Second, Src: client, Proto: UDP, DstPort: 9}); v != Drop || m.Stamps(client) != nil {
		t.Errorf("packet after 21 old hits: %v, stamps %d; want drop and no entry", v, len(m.Stamps(client)))
	}
}

// TestRing: the ring keeps the next power of two of the largest hitcount
// (at least 32) stamps.
func TestRing(t *testing.T) {
	for _, tt := range []struct {
		seq  string
		ring int
	}{{"1234", 32}, {"99999", 128}, {"9999999", 128}, {"1", 32}} {
		m := model(t, Spec{Sequence: seq(t, tt.seq), Window: 1, KnockPort: 443, SecurePort: 22})
		for i := 0; i < 300; i++ {
			m.knocks().set(client, uint64(i))
		}
		if n := len(m.Stamps(client)); n != tt.ring {
			t.Errorf("%d bursts summing %d: ring of %d, want %d", len(tt.seq), seq(t, tt.seq).Sum(), n, tt.ring)
		}
	}
}

func TestLRU(t *testing.T) {
	m := model(t, Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 443, SecurePort: 22})
	first := netip.MustParseAddr("192.0.2.100")
	m.Packet(Packet{Src: first, Proto: UDP, DstPort: 443})
	for i := 0; i < defaultListTot; i++ {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		m.Packet(Packet{At: time.Millisecond, Src: a, Proto: UDP, DstPort: 443})
	}
	if m.Stamps(first) != nil || len(m.knocks().entries) != defaultListTot {
		t.Errorf("after %d more sources the first is still there (%d entries)", defaultListTot, len(m.knocks().entries))
	}
}

func TestValidate(t *testing.T) {
	if err := (Spec{Sequence: seq(t, "9999999999999999"), Window: 1, KnockPort: 1, SecurePort: 2}).Validate(); err == nil {
		t.Error("a sum of 144 (hitcount 289) was accepted")
	}
	if err := (Spec{Sequence: seq(t, "99999999999999"), Window: 1, KnockPort: 1, SecurePort: 2}).Validate(); err != nil {
		t.Errorf("a sum of 126 (hitcount 253): %v", err)
	}
	// The bursts' span is a --seconds value: seconds·HZ must fit 32 bits.
	if err := (Spec{Sequence: seq(t, "1234"), Window: MaxFailPeriod/4 + 1, KnockPort: 1, SecurePort: 2}).Validate(); err == nil {
		t.Error("a span of more than MaxFailPeriod seconds was accepted")
	}
	if err := (Spec{Sequence: seq(t, "1234"), Window: MaxFailPeriod / 4, KnockPort: 1, SecurePort: 2}).Validate(); err != nil {
		t.Errorf("a span of MaxFailPeriod seconds: %v", err)
	}
}

// FuzzModel runs arbitrary packet timelines through the model and checks
// its invariants: no panic, rings never exceed their size, and an accepted
// connection leaves no entry behind.
func FuzzModel(f *testing.F) {
	f.Add([]byte{0, 1, 0, 10, 1, 2, 40, 3}, "1234")
	f.Add([]byte{255, 3, 17, 200, 9, 9}, "12")
	f.Fuzz(func(t *testing.T, ops []byte, sq string) {
		s, err := knocker.ParseSequence(sq)
		if err != nil {
			return
		}
		spec := Spec{Sequence: s, Window: 1, KnockPort: 22, SecurePort: 22}
		if spec.Validate() != nil {
			return
		}
		m := model(t, spec)
		var at time.Duration
		for i := 0; i+1 < len(ops); i += 2 {
			at += time.Duration(ops[i]) * 10 * time.Millisecond
			p := Packet{At: at, Src: client, DstPort: 22}
			switch ops[i+1] % 4 {
			case 0:
				p.Proto = UDP
			case 1:
				p.Proto, p.SYN = TCP, true
			case 2:
				p.Proto, p.DstPort = UDP, 9
			case 3:
				p.Proto, p.Established = TCP, true
			}
			v := m.Packet(p)
			if n := len(m.Stamps(client)); n > m.knocks().mask+1 {
				t.Fatalf("%d stamps in a ring of %d", n, m.knocks().mask+1)
			}
			if v == Accept && !p.Established && m.Stamps(client) != nil {
				t.Fatalf("accepted a connection but the entry remains")
			}
		}
	})
}

// TestTCPKnockAfterPattern pins what makes 1235 over TCP, with the knock
// port as the secure port, not a wrong sequence for a 1234 server: after the
// fourth knock of the last burst the list holds a complete 1234, and the
// fifth SYN is a connection attempt. It is dropped while it lands in the same
// jiffy offset as the third burst (that burst still counts as within the last
// W, as a connect at 3W does not open) and accepted from the next jiffy on.
func TestTCPKnockAfterPattern(t *testing.T) {
	s := Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 22, SecurePort: 22}
	last := 3*time.Second + 4*knockGap // the fifth knock of burst 4
	for _, tt := range []struct {
		phase  time.Duration
		accept bool
	}{
		{0, false},
		{jiffy - 5*knockGap, false}, // burst 4 wholly in the next jiffy offset: burst 3 still within W
		{jiffy - 4*knockGap, true},  // only the fifth knock crosses: burst 3 is outside W for it
		{jiffy - 3*knockGap, true},
	} {
		m, err := NewModel(s, 250, tt.phase)
		if err != nil {
			t.Fatal(err)
		}
		vs := m.feed(KnockTimeline(seq(t, "1235"), time.Second, 0, TCP, 22, client))
		for i, v := range vs[:len(vs)-1] {
			if v == Accept {
				t.Fatalf("phase %v: knock %d accepted", tt.phase, i+1)
			}
		}
		if got := vs[len(vs)-1] == Accept; got != tt.accept {
			t.Errorf("phase %v: knock at %v accepted=%v, want %v; trace %v", tt.phase, last, got, tt.accept, m.Trace())
		}
	}
}

// jitteredKnock returns the packets of a knock of q on port 22 as a loaded
// client may send them: each burst up to 1 ms late, knocks up to 200 µs
// apart; then a connection attempt margin after the last knock.
func jitteredKnock(r *rand.Rand, q knocker.Sequence, window time.Duration, proto Proto, margin time.Duration) []Packet {
	var ps []Packet
	for k, d := range q {
		at := time.Duration(k)*window + time.Duration(r.Int64N(int64(time.Millisecond)))
		for range d {
			ps = append(ps, Packet{At: at, Src: client, Proto: proto, DstPort: 22, SYN: proto == TCP})
			at += time.Duration(1 + r.Int64N(int64(200*time.Microsecond)))
		}
	}
	return append(ps, Packet{At: ps[len(ps)-1].At + margin, Src: client, Proto: TCP, DstPort: 22, SYN: true})
}

// TestWrongSequencesAnyTiming backs the lab's TestLabWrongSequenceNeverOpens:
// for the sequences it tries against 1234 (knock port = secure port), no
// knock and no connection attempt 50 ms after the last burst is ever
// accepted, at any jiffy phase and with jittered knocks, over UDP and over
// TCP.
func TestWrongSequencesAnyTiming(t *testing.T) {
	s := Spec{Sequence: seq(t, "1234"), Window: 1, KnockPort: 22, SecurePort: 22}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		wrong  string
		protos []Proto
	}{
		{"1233", []Proto{UDP, TCP}}, {"1235", []Proto{UDP}}, {"1243", []Proto{UDP, TCP}},
		{"2134", []Proto{UDP, TCP}}, {"1134", []Proto{UDP, TCP}}, {"4321", []Proto{UDP, TCP}},
		{"123", []Proto{UDP, TCP}}, {"9999", []Proto{UDP, TCP}},
	} {
		for _, proto := range tc.protos {
			for run := 0; run < 400; run++ {
				m, err := NewModel(s, 250, time.Duration(r.Int64N(int64(jiffy))))
				if err != nil {
					t.Fatal(err)
				}
				ps := jitteredKnock(r, seq(t, tc.wrong), time.Second, proto, 50*time.Millisecond)
				for i, v := range m.feed(ps) {
					if v == Accept {
						t.Fatalf("%s over %v, run %d: packet %d of %d accepted; trace %v", tc.wrong, proto, run, i+1, len(ps), m.Trace())
					}
				}
			}
		}
	}
}

// TestRightSequencesAnyTiming backs the lab's TestLabKnockOpens the same
// way: its sequences open, at the connection attempt and never before, at
// any jiffy phase and with jittered knocks. (Raw knocks are TCP SYNs.)
func TestRightSequencesAnyTiming(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		sequence string
		window   int
		proto    Proto
	}{
		{"1234", 1, UDP}, {"1234", 1, TCP}, {"4321", 1, TCP}, {"2222", 1, TCP},
		{"9191", 2, UDP}, {"1357", 2, TCP}, {"3141", 1, UDP},
	} {
		q := seq(t, tc.sequence)
		s := Spec{Sequence: q, Window: tc.window, KnockPort: 22, SecurePort: 22}
		for run := 0; run < 400; run++ {
			m, err := NewModel(s, 250, time.Duration(r.Int64N(int64(jiffy))))
			if err != nil {
				t.Fatal(err)
			}
			ps := jitteredKnock(r, q, time.Duration(tc.window)*time.Second, tc.proto, 50*time.Millisecond)
			vs := m.feed(ps)
			for i, v := range vs {
				if want := i == len(vs)-1; (v == Accept) != want {
					t.Fatalf("%s over %v (W=%d), run %d: packet %d of %d: %v; trace %v", tc.sequence, tc.proto, tc.window, run, i+1, len(ps), v, m.Trace())
				}
			}
		}
	}
}
