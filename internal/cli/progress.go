package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/knockssh/knockssh/knocker"
)

// A progress is the one stderr line that shows a knock going on, on a
// terminal: burst k of n, the time until the window opens, the attempt.
// It is rewritten in place (carriage return and padding, which every
// terminal and the Windows console understand) and cleared once the
// connection is made, before ssh prints anything. It never shows the
// sequence nor how many knocks a burst holds.
type progress struct {
	w     io.Writer
	host  string
	width int // the terminal's columns
	last  int // the length of the line on screen, in runes, 0 for none
}

// event shows e.
func (p *progress) event(e knocker.Event) {
	if p == nil {
		return
	}
	var msg string
	switch e.Kind {
	case knocker.EventBurst:
		msg = fmt.Sprintf("knockssh: knocking on %s: burst %d of %d, open in %.1fs", p.host, e.Burst, e.Bursts, e.Left.Seconds())
		if e.Attempt > 1 {
			msg += fmt.Sprintf(" (attempt %d)", e.Attempt)
		}
	case knocker.EventOpen:
		msg = fmt.Sprintf("knockssh: knocked on %s: connecting", p.host)
	case knocker.EventWait:
		msg = fmt.Sprintf("knockssh: no answer from %s: attempt %d in %.1fs", p.host, e.Attempt, e.Wait.Seconds())
	case knocker.EventBusy:
		msg = fmt.Sprintf("knockssh: waiting for another knock on %s", p.host)
	case knocker.EventDial:
		p.clear()
		return
	default:
		return
	}
	// One screen row: a line that wrapped could not be rewritten in
	// place (the carriage return goes back to the start of the last row).
	r := []rune(msg)
	if len(r) > p.width-1 {
		r = append(r[:p.width-2], '…')
	}
	fmt.Fprintf(p.w, "\r%s%s", string(r), strings.Repeat(" ", max(p.last-len(r), 0)))
	p.last = len(r)
}

// clear removes the line, if any.
func (p *progress) clear() {
	if p != nil && p.last > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.last))
		p.last = 0
	}
}

// newProgress returns the progress line on stderr for host, or nil: when
// is "always", "never", or "auto" (on a terminal).
func newProgress(when string, stderr io.Writer, host string) *progress {
	on := when == "always"
	width := 80 // where the terminal cannot be asked (a shared connection's log)
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		on = on || when == "auto"
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 10 {
			width = w
		}
	}
	if !on {
		return nil
	}
	return &progress{w: stderr, host: host, width: width}
}
