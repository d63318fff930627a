package knocker

import (
	"context"
	"fmt"
	"net"
	"time"
)

// redialAt is when dialWindow sends a second SYN: halfway from the first to
// the window's end, leaving the second as much time to arrive as the
// first had to be answered.
func redialAt(start, deadline time.Time) time.Time {
	return start.Add(deadline.Sub(start) / 2)
}

// dialWindow connects with dial inside the window that ends at ctx's
// deadline. The kernel retransmits an unanswered SYN after one second, too
// late for a one-second window, so a lost SYN would cost the attempt and a
// retry; when the first connection has no answer by redialAt, a second
// one sends another SYN. The first to connect wins and the other is
// cancelled. The server accepts one of them at most: the first SYN to
// arrive removes the source from the list.
func dialWindow(ctx context.Context, dial func(context.Context) (net.Conn, error)) (net.Conn, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return dial(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn net.Conn
		err  error
	}
	results := make(chan result, 2)
	spawn, done := goHere()
	defer done()
	start := func() {
		spawn(func(err error) {
			if err != nil {
				results <- result{nil, fmt.Errorf("entering the caller's network namespace: %w", err)}
				return
			}
			c, err := dial(ctx)
			results <- result{c, err}
		})
	}
	start()
	timer := time.NewTimer(time.Until(redialAt(time.Now(), deadline)))
	defer timer.Stop()
	pending, redialed := 1, false
	var first error
	for {
		select {
		case <-timer.C:
			if !redialed {
				redialed = true
				pending++
				start()
			}
		case r := <-results:
			pending--
			if r.err == nil {
				cancel()
				if pending > 0 {
					go func() { // the other attempt, cancelled above
						if o := <-results; o.conn != nil {
							o.conn.Close()
						}
					}()
				}
				return r.conn, nil
			}
			if first == nil {
				first = r.err
			}
			if !retryable(r.err) || ctx.Err() != nil {
				if pending > 0 {
					cancel()
					<-results
				}
				return nil, first
			}
			if pending == 0 {
				if redialed {
					return nil, first
				}
				// Failed early but may still succeed (a timeout of its
				// own): try the second now.
				redialed = true
				pending++
				start()
			}
		}
	}
}
