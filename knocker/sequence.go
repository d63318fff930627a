package knocker

import (
	"errors"
	"fmt"
)

// MaxBursts is the largest number of bursts a Sequence may have.
const MaxBursts = 16

// DefaultBursts is the number of bursts of an Open Sesamy sequence as the
// seed describes it.
const DefaultBursts = 4

// ErrSequence is wrapped by every error ParseSequence returns, so callers can
// recognise a malformed secret without looking at it.
var ErrSequence = errors.New("invalid knock sequence")

// A Sequence is the secret of an Open Sesamy knock: burst k sends Sequence[k]
// knocks. Each element is between 1 and 9.
//
// A Sequence is a secret: its String and Format methods never reveal the
// digits; use Digits for the real value.
type Sequence []int

// ParseSequence parses a string of digits 1-9, one digit a burst, with
// between 1 and MaxBursts bursts. Spaces, dashes and commas between digits
// are accepted ("1-2-3-4"). The error never contains the input.
func ParseSequence(s string) (Sequence, error) {
	var seq Sequence
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '1' && c <= '9':
			seq = append(seq, int(c-'0'))
		case c == '0':
			return nil, fmt.Errorf("%w: digit %d is 0, want 1-9", ErrSequence, len(seq)+1)
		case c == ' ' || c == '-' || c == ',':
			if len(seq) == 0 || i == len(s)-1 || !isDigit(s[i+1]) {
				return nil, fmt.Errorf("%w: separator out of place, want digits 1-9, one a burst", ErrSequence)
			}
		default:
			return nil, fmt.Errorf("%w: character %d is not a digit, want digits 1-9, one a burst", ErrSequence, i+1)
		}
		if len(seq) > MaxBursts {
			return nil, fmt.Errorf("%w: more than %d bursts", ErrSequence, MaxBursts)
		}
	}
	if len(seq) == 0 {
		return nil, fmt.Errorf("%w: empty, want digits 1-9, one a burst", ErrSequence)
	}
	return seq, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Validate reports whether s is a usable sequence: 1 to MaxBursts bursts of
// 1 to 9 knocks each.
func (s Sequence) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("%w: empty", ErrSequence)
	}
	if len(s) > MaxBursts {
		return fmt.Errorf("%w: more than %d bursts", ErrSequence, MaxBursts)
	}
	for i, d := range s {
		if d < 1 || d > 9 {
			return fmt.Errorf("%w: burst %d is out of range 1-9", ErrSequence, i+1)
		}
	}
	return nil
}

// Sum is the total number of knocks of the sequence (the seed's SEQSUM).
func (s Sequence) Sum() int {
	n := 0
	for _, d := range s {
		n += d
	}
	return n
}

// Digits returns the secret as the string of digits it was parsed from.
func (s Sequence) Digits() string {
	b := make([]byte, len(s))
	for i, d := range s {
		b[i] = byte('0' + d)
	}
	return string(b)
}

// String returns a redacted description such as "4-burst sequence"; it never
// contains the digits.
func (s Sequence) String() string {
	return fmt.Sprintf("%d-burst sequence", len(s))
}

// Format implements fmt.Formatter so that no verb (%v, %d, %#v, ...) prints
// the secret.
func (s Sequence) Format(f fmt.State, _ rune) {
	fmt.Fprint(f, s.String())
}

// GoString implements fmt.GoStringer with the same redaction as String.
func (s Sequence) GoString() string { return s.String() }
