package cli

import (
	"bytes"
	"crypto/rand"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

// TestNewSequenceDistribution: the digits are uniform over 1-9 (a
// chi-square test at the 0.1% level, on a fixed-seed stream so that it
// cannot flake) and the sums stay within the kernel's limit.
func TestNewSequenceDistribution(t *testing.T) {
	r := mrand.NewChaCha8([32]byte{1})
	var counts [10]int
	const draws = 20000
	for i := 0; i < draws; i++ {
		seq, err := newSequence(r, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(seq) != 4 {
			t.Fatalf("%d bursts, want 4", len(seq))
		}
		for _, d := range seq {
			counts[d]++
		}
	}
	if counts[0] != 0 {
		t.Fatal("a 0 digit")
	}
	expect := float64(draws*4) / 9
	chi := 0.0
	for d := 1; d <= 9; d++ {
		diff := float64(counts[d]) - expect
		chi += diff * diff / expect
	}
	if chi > 26.12 { // 8 degrees of freedom, p = 0.001
		t.Errorf("digits not uniform: chi-square %.1f, counts %v", chi, counts[1:])
	}
	for i := 0; i < 2000; i++ {
		seq, err := newSequence(r, 16)
		if err != nil {
			t.Fatal(err)
		}
		if seq.Sum() > maxSequenceSum {
			t.Fatalf("sum %d over %d", seq.Sum(), maxSequenceSum)
		}
	}
}

// TestNewSequenceRejection: bytes 252-255 are skipped (they would favour
// 1-4), and a sequence over the sum limit is drawn again.
func TestNewSequenceRejection(t *testing.T) {
	seq, err := newSequence(bytes.NewReader([]byte{252, 255, 0, 8, 251, 9}), 3)
	if err != nil || seq.Digits() != "199" {
		t.Errorf("newSequence = %v, %v; want 199", seq.Digits(), err)
	}
	// Sixteen 9s add up to 144 > 127: rejected; then sixteen 1s.
	in := append(bytes.Repeat([]byte{8}, 16), bytes.Repeat([]byte{0}, 16)...)
	seq, err = newSequence(bytes.NewReader(in), 16)
	if err != nil || seq.Digits() != strings.Repeat("1", 16) {
		t.Errorf("newSequence = %v, %v; want sixteen 1s", seq.Digits(), err)
	}
	for _, n := range []int{0, 17} {
		if _, err := newSequence(rand.Reader, n); err == nil {
			t.Errorf("newSequence(%d bursts) did not fail", n)
		}
	}
	if seq, err := newSequence(rand.Reader, 16); err != nil || len(seq) != 16 {
		t.Errorf("newSequence(crypto/rand, 16) = %d bursts, %v", len(seq), err)
	}
}
