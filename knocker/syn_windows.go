package knocker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// synSender sends each knock as the SYN of a connection attempt that is
// abandoned after a millisecond. Windows offers no portable way to send a
// bare SYN without waiting, so this is best effort: use UDP knocks where the
// server allows them.
type synSender struct{ t Target }

func newSYNSender(t Target) (Sender, error) { return &synSender{t: t}, nil }

func (s *synSender) Burst(n int) error {
	d := net.Dialer{}
	if s.t.Source.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.t.Source, 0))
	}
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		c, err := d.DialContext(ctx, "tcp", s.t.Addr.String())
		cancel()
		if err == nil {
			c.Close()
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return fmt.Errorf("sending tcp knock: %w", err)
			}
		}
	}
	return nil
}

func (s *synSender) Close() error { return nil }
