package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// A Host is one network namespace of a lab.
type Host struct {
	// Name is the namespace's name under /var/run/netns.
	Name string
}

// Do runs f on a goroutine locked to an OS thread that has entered the
// namespace, and returns f's error. Sockets f creates belong to the
// namespace for their whole life, whichever goroutine uses them later. The
// thread is never unlocked, so the runtime discards it when f returns.
func (h *Host) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/var/run/netns/"+h.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("opening namespace %s: %w", h.Name, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", h.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Command returns a command that runs name inside the namespace
// (ip netns exec).
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Run runs name inside the namespace and returns its standard output; it
// fails the test, with the output, when the command fails.
func (h *Host) Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	cmd := h.Command(context.Background(), name, args...)
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		tb.Fatalf("%s in %s: %v\nstdout: %s\nstderr: %s", name, h.Name, err, out, stderr)
	}
	return string(out)
}

// ReadFile reads a file as seen from the namespace, for /proc/net files:
// it reads /proc/thread-self/... from a thread inside the namespace.
func (h *Host) ReadFile(path string) ([]byte, error) {
	var data []byte
	err := h.Do(func() error {
		var err error
		data, err = os.ReadFile(path)
		return err
	})
	return data, err
}

// Listen returns a TCP listener created inside the server namespace on port
// ("tcp4" or "tcp6"), closed at teardown.
func (l *Lab) Listen(tb testing.TB, network string, port int) net.Listener {
	tb.Helper()
	addr := fmt.Sprintf("0.0.0.0:%d", port)
	if network == "tcp6" {
		addr = fmt.Sprintf("[::]:%d", port)
	}
	var ln net.Listener
	err := l.Server.Do(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		tb.Fatalf("lab: listening in %s: %v", l.Server.Name, err)
	}
	l.onTeardown(func() { ln.Close() })
	return ln
}

// Sink listens on port in the server namespace, IPv4 and IPv6, and accepts
// and closes every connection, until teardown: a stand-in service for tests
// that only need a connection to get through the firewall.
func (l *Lab) Sink(tb testing.TB, port int) {
	tb.Helper()
	for _, network := range []string{"tcp4", "tcp6"} {
		ln := l.Listen(tb, network, port)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
}
