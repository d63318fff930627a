package knocker

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeDial returns dial functions whose i-th call (from 0) does what
// behave[i] says, and counts the calls that started and that returned.
type fakeDial struct {
	behave         []func(ctx context.Context) (net.Conn, error)
	started, ended atomic.Int32
}

func (f *fakeDial) dial(ctx context.Context) (net.Conn, error) {
	i := f.started.Add(1) - 1
	defer f.ended.Add(1)
	return f.behave[i](ctx)
}

func hang(ctx context.Context) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func connect(context.Context) (net.Conn, error) {
	c, s := net.Pipe()
	s.Close()
	return c, nil
}

func TestDialWindow(t *testing.T) {
	refused := func(context.Context) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
	}
	for _, tt := range []struct {
		name    string
		behave  []func(context.Context) (net.Conn, error)
		ok      bool
		started int32
	}{
		{"first answers", []func(context.Context) (net.Conn, error){connect}, true, 1},
		{"first SYN lost, second answers", []func(context.Context) (net.Conn, error){hang, connect}, true, 2},
		{"both lost", []func(context.Context) (net.Conn, error){hang, hang}, false, 2},
		{"refused is final", []func(context.Context) (net.Conn, error){refused}, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDial{behave: tt.behave}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			c, err := dialWindow(ctx, f.dial)
			if (err == nil) != tt.ok {
				t.Fatalf("dialWindow: %v, want ok %v", err, tt.ok)
			}
			if c != nil {
				c.Close()
			}
			if got := f.started.Load(); got != tt.started {
				t.Errorf("%d connection attempts, want %d", got, tt.started)
			}
			// Every attempt has ended, or ends once cancelled: none leaks.
			for deadline := time.Now().Add(5 * time.Second); f.ended.Load() != f.started.Load(); {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d attempts never returned", f.started.Load()-f.ended.Load(), f.started.Load())
				}
				time.Sleep(time.Millisecond)
			}
			if !tt.ok && tt.started == 2 && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want the deadline", err)
			}
		})
	}
}

func TestRedialAt(t *testing.T) {
	start := time.Unix(1000, 0)
	if got := redialAt(start, start.Add(950*time.Millisecond)); got != start.Add(475*time.Millisecond) {
		t.Errorf("redialAt: %v after the first SYN, want 475ms", got.Sub(start))
	}
}
