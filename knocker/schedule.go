package knocker

import "time"

// A Schedule places the bursts of one knock attempt and the instant the
// secure port opens, all relative to Start, the instant of the first burst.
type Schedule struct {
	Start  time.Time
	Window time.Duration
	Bursts int
	Margin time.Duration
}

// Burst returns the instant burst k (0-based) is due: Start + k·Window.
func (s Schedule) Burst(k int) time.Time {
	return s.Start.Add(time.Duration(k) * s.Window)
}

// Open returns the instant to connect: Margin after the last burst, which is
// (n-1)·Window after Start. The server accepts a connection in the interval
// ((n-1)·W, n·W] after the first burst.
func (s Schedule) Open() time.Time {
	return s.Burst(s.Bursts - 1).Add(s.Margin)
}

// Close returns the end of the window, n·Window after Start: a connection
// attempt after it never opens.
func (s Schedule) Close() time.Time {
	return s.Burst(s.Bursts)
}

// Span is the longest --seconds of the server's rules, n·Window: a packet
// older than Span no longer counts in any of the time-limited checks.
func (s Schedule) Span() time.Duration {
	return time.Duration(s.Bursts) * s.Window
}

// A Timeline records what one attempt actually did, as offsets from the
// scheduled start. It never holds the sequence.
type Timeline struct {
	// Start is the scheduled instant of the first burst.
	Start time.Time
	// Bursts are the instants each burst was released, as offsets from
	// Start (ideally 0, W, 2W, ...).
	Bursts []time.Duration
	// Open is the offset at which the window was taken to be open.
	Open time.Duration
}
