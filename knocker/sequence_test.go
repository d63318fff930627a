package knocker

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseSequence(t *testing.T) {
	tests := []struct {
		in      string
		want    string // digits, or "" for an error
		errPart string
	}{
		{"1234", "1234", ""},
		{"9", "9", ""},
		{"1-2-3-4", "1234", ""},
		{"1 2 3 4", "1234", ""},
		{"1,2,3,4", "1234", ""},
		{"1234567891234567", "1234567891234567", ""},
		{"12345678912345678", "", "more than 16 bursts"},
		{"", "", "empty"},
		{"1204", "", "digit 3 is 0"},
		{"12a4", "", "character 3 is not a digit"},
		{"-1234", "", "separator"},
		{"1234-", "", "separator"},
		{"1--2", "", "separator"},
		{"１２３４", "", "not a digit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSequence(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseSequence(%q) = %s, want error", tt.in, got.Digits())
				}
				if !errors.Is(err, ErrSequence) || !strings.Contains(err.Error(), tt.errPart) {
					t.Errorf("error %q, want ErrSequence containing %q", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSequence(%q): %v", tt.in, err)
			}
			if got.Digits() != tt.want {
				t.Errorf("ParseSequence(%q) = %s, want %s", tt.in, got.Digits(), tt.want)
			}
		})
	}
}

func TestSequenceRedacted(t *testing.T) {
	seq, err := ParseSequence("9876")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		if out := fmt.Sprintf(verb, seq); strings.ContainsAny(out, "6789") && !strings.Contains(out, "4-burst") {
			t.Errorf("Sprintf(%q) = %q reveals the sequence", verb, out)
		}
		if out := fmt.Sprintf(verb, []any{seq}); strings.ContainsAny(out, "6789") {
			t.Errorf("Sprintf(%q) of a slice = %q reveals the sequence", verb, out)
		}
	}
	if seq.Sum() != 30 {
		t.Errorf("Sum = %d, want 30", seq.Sum())
	}
}

// FuzzParseSequence checks that any accepted input is valid and round-trips,
// and that no error ever contains the input.
func FuzzParseSequence(f *testing.F) {
	for _, s := range []string{"1234", "1-2-3-4", "", "0", "99999999999999999", "1 2", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, err := ParseSequence(s)
		if err != nil {
			digits := strings.Map(func(r rune) rune {
				if r >= '1' && r <= '9' {
					return r
				}
				return -1
			}, s)
			if len(digits) >= 3 && strings.Contains(err.Error(), digits) {
				t.Fatalf("error %q echoes the input's digits", err)
			}
			return
		}
		if err := seq.Validate(); err != nil {
			t.Fatalf("accepted %q but Validate: %v", s, err)
		}
		again, err := ParseSequence(seq.Digits())
		if err != nil || again.Digits() != seq.Digits() {
			t.Fatalf("round trip of %q failed: %v", s, err)
		}
	})
}
