package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/knockssh/knockssh/knocker"
)

// TestProgress: the line is rewritten in place, padded over a longer one,
// cleared when the connection is made; it names bursts by number only.
func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, host: "home", width: 80}
	for k := 1; k <= 4; k++ {
		p.event(knocker.Event{Kind: knocker.EventBurst, Attempt: 1, Burst: k, Bursts: 4, Left: time.Duration(4-k)*time.Second + 50*time.Millisecond})
	}
	p.event(knocker.Event{Kind: knocker.EventOpen, Attempt: 1})
	p.event(knocker.Event{Kind: knocker.EventDial, Attempt: 1})
	out := b.String()
	for _, want := range []string{
		"\rknockssh: knocking on home: burst 1 of 4, open in 3.0s",
		"\rknockssh: knocking on home: burst 4 of 4, open in 0.1s",
		"\rknockssh: knocked on home: connecting",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%q", want, out)
		}
	}
	// The clear: a carriage return, spaces over the last line, another.
	last := len("knockssh: knocked on home: connecting")
	if !strings.HasSuffix(out, "\r"+strings.Repeat(" ", last)+"\r") {
		t.Errorf("the line is not cleared at the end: %q", out)
	}
	if strings.Contains(out, "\n") {
		t.Errorf("progress wrote a newline: %q", out)
	}
	// A shorter line after a longer one is padded.
	b.Reset()
	p.event(knocker.Event{Kind: knocker.EventWait, Attempt: 2, Wait: 4 * time.Second})
	p.event(knocker.Event{Kind: knocker.EventBusy})
	if want := "\rknockssh: waiting for another knock on home" + strings.Repeat(" ", len("knockssh: no answer from home: attempt 2 in 4.0s")-len("knockssh: waiting for another knock on home")); !strings.HasSuffix(b.String(), want) {
		t.Errorf("no padding over the longer line: %q", b.String())
	}
	// A line never wraps: cut to the width, in runes.
	b.Reset()
	narrow := &progress{w: &b, host: "ünïcödé-host-with-a-very-long-name.example.org", width: 40}
	narrow.event(knocker.Event{Kind: knocker.EventBurst, Attempt: 2, Burst: 1, Bursts: 4})
	if n := len([]rune(strings.TrimPrefix(b.String(), "\r"))); n != 39 || !strings.HasSuffix(b.String(), "…") {
		t.Errorf("a long line on 40 columns: %d runes: %q", n, b.String())
	}
	// Off: a nil progress does nothing.
	var off *progress
	off.event(knocker.Event{Kind: knocker.EventBurst})
	off.clear()
	if newProgress("never", &b, "h") != nil || newProgress("auto", &b, "h") != nil || newProgress("always", &b, "h") == nil {
		t.Error("newProgress: never and auto on a buffer must be off, always on")
	}
}
