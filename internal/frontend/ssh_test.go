package frontend

import (
	"testing"
	"time"
)

// TestWrapperTimeout: the wrapper gives ssh its ConnectTimeout plus the
// knock's, in whole seconds rounded up; none stays none.
func TestWrapperTimeout(t *testing.T) {
	for _, tc := range []struct{ timeout, budget, want time.Duration }{
		{0, 19150 * time.Millisecond, 0},
		{3 * time.Second, 19150 * time.Millisecond, 23 * time.Second},
		{3 * time.Second, 57150 * time.Millisecond, 61 * time.Second},
		{2 * time.Second, 3 * time.Second, 5 * time.Second},
	} {
		if got := WrapperTimeout(tc.timeout, tc.budget); got != tc.want {
			t.Errorf("WrapperTimeout(%v, %v) = %v, want %v", tc.timeout, tc.budget, got, tc.want)
		}
	}
}
