// Package knocker sends Open Sesamy port knocks and connects inside the
// window they open.
//
// An Open Sesamy server (see knockssh's --rules and configs/) counts knocks
// per source address with the iptables recent match. A [Sequence] such as 1234
// is sent as bursts of 1, 2, 3 and 4 knocks, one Window apart; the secure port
// then accepts one new connection from that source in the interval
// ((n-1)W, nW] after the first burst, where n is the number of bursts.
//
// [Knock] sends the bursts on the monotonic clock and returns when the window
// has opened; [Dial] knocks, connects inside the window and retries, waiting
// out and clearing what a failed attempt left on the server so that it never
// poisons the next one. [Engine] is the same algorithm over abstract parts
// ([Sender], [Clock]), for tests and for callers that bring their own
// transport. [Config] says how to knock; [ReadSettings] reads the seed's
// settings files.
package knocker

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Budget returns how long Dial may take before the window of its last
// attempt opens: every attempt and every wait between two counted, the
// lock's waits not. A connect timeout the caller adds on top of it keeps
// its meaning: the time to connect once the window is open.
func (c Config) Budget() time.Duration {
	c = c.WithDefaults()
	n, w, r := time.Duration(max(len(c.Sequence), 1)), c.Window, time.Duration(c.Retries)
	// A failed attempt: its bursts and its window, n·W; then the wait
	// until the server forgets it, n·W + Margin. The last: until it opens.
	return r*(2*n*w+c.Margin) + (n-1)*w + c.Margin
}

// Defaults used when a Config field is zero.
const (
	// DefaultPort is the knock port of a stanza that names none.
	DefaultPort = 443
	// DefaultWindow is the seed's KNOCKWINDOW.
	DefaultWindow = 3 * time.Second
	// DefaultMargin is how long after the last burst's window starts the
	// client connects. The server opens strictly after (n-1)W measured in
	// jiffies, so the margin must cover one jiffy at HZ=100 (10 ms), the
	// client's release error (well under 1 ms) and the difference in path
	// delay between the first knock and the connect (jitter); 50 ms leaves
	// 950 ms of a 1 s window for the connection's SYN to arrive.
	DefaultMargin = 50 * time.Millisecond
	// DefaultRetries is the number of attempts after the first one that the
	// command line makes.
	DefaultRetries = 2
)

// Protocol is the kind of packet a knock is.
type Protocol int

// The knock protocols.
const (
	// UDP knocks are empty-ish UDP datagrams; no privileges needed.
	UDP Protocol = iota + 1
	// TCP knocks are TCP SYNs sent by a non-blocking connect that is closed
	// at once, so exactly one SYN leaves per knock; no privileges needed.
	TCP
	// Raw knocks are TCP SYNs crafted with gopacket and sent on a raw
	// socket; they need CAP_NET_RAW.
	Raw
)

// ParseProtocol parses "udp", "tcp" or "raw" (case-insensitive).
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "udp":
		return UDP, nil
	case "tcp", "syn":
		return TCP, nil
	case "raw":
		return Raw, nil
	}
	return 0, fmt.Errorf("unknown knock protocol %q, want udp, tcp or raw", s)
}

// String returns the protocol's name as ParseProtocol accepts it.
func (p Protocol) String() string {
	switch p {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	case Raw:
		return "raw"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// ErrWindow is wrapped by errors about a window or margin the server cannot
// honour.
var ErrWindow = errors.New("invalid knock window")

// CheckWindow reports whether window is one the server's rules can hold:
// a positive whole number of seconds.
func CheckWindow(window time.Duration) error {
	if window < time.Second || window%time.Second != 0 {
		return fmt.Errorf("%w: %v is not a whole number of seconds (the server's --seconds counts whole seconds)", ErrWindow, window)
	}
	return nil
}

// checkTiming reports whether window and margin are usable: the window a
// whole number of seconds (the server's --seconds is an integer) and the
// margin positive and shorter than the window.
func checkTiming(window, margin time.Duration) error {
	if err := CheckWindow(window); err != nil {
		return err
	}
	if margin <= 0 || margin >= window {
		return fmt.Errorf("%w: margin %v must be above 0 and below the window %v", ErrWindow, margin, window)
	}
	return nil
}
