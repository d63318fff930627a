package knocker

import (
	"context"
	"runtime"
	"time"
)

// A Clock tells the time and waits for it. The engine asks nothing else of
// time, so tests can run it on a virtual clock.
type Clock interface {
	// Now returns the current time; with the system clock it carries a
	// monotonic reading.
	Now() time.Time
	// SleepUntil returns when t has come or ctx is done, whichever is first,
	// with ctx's error in the latter case.
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock is the real, monotonic clock. Its SleepUntil sleeps until
// shortly before the instant and then waits actively, so it returns within
// microseconds of t on an idle machine and well within a millisecond on a
// busy one.
var SystemClock Clock = systemClock{}

// spinLead is how long before an instant SystemClock stops sleeping and
// starts polling the clock: above the timer latency of a loaded machine.
const spinLead = 5 * time.Millisecond

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) SleepUntil(ctx context.Context, t time.Time) error {
	if d := time.Until(t) - spinLead; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	for time.Now().Before(t) {
		if err := ctx.Err(); err != nil {
			return err
		}
		runtime.Gosched()
	}
	return ctx.Err()
}
