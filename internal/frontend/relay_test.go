package frontend

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestRelay relays through real pipes and a TCP connection to an echo
// server on the loopback interface that answers after reading everything:
// the relay must pass the client's end of file on (half-close) and bring
// every byte back before it returns.
func TestRelay(t *testing.T) {
	for _, size := range []int{0, 1, 100 << 10, 8 << 20} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			ln.Close()
			if err != nil {
				return
			}
			data, _ := io.ReadAll(c) // until the relay's half-close
			c.Write(data)
			c.Close()
		}()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		want := make([]byte, size)
		rand.Read(want)
		go func() { inW.Write(want); inW.Close() }()
		got := make(chan []byte)
		go func() { b, _ := io.ReadAll(outR); got <- b }()
		done := make(chan error)
		go func() { done <- Relay(conn, inR, outW); outW.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("size %d: Relay: %v", size, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("size %d: Relay did not return", size)
		}
		if b := <-got; !bytes.Equal(b, want) {
			t.Errorf("size %d: got %d bytes back", size, len(b))
		}
		inR.Close()
		outR.Close()
	}
}

// TestRelayInteractive: a server that speaks first, and a client that
// answers only after reading it, as ssh's banner exchange goes. A relay that
// waits to fill a buffer before passing data on hangs here.
func TestRelayInteractive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 6)
		for _, greeting := range []string{"hello\n", "again\n"} {
			c.Write([]byte(greeting))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "reply\n" {
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	// No deferred Close: a relay that hangs keeps the pipes in use, and the
	// test must fail rather than wait for it.
	done := make(chan error, 1)
	go func() { done <- Relay(conn, inR, outW); outW.Close() }()
	// The reads run in a goroutine: a hung relay fails the test in 10 s
	// instead of blocking it.
	read := make(chan string)
	go func() {
		buf := make([]byte, 6)
		for {
			if _, err := io.ReadFull(outR, buf); err != nil {
				close(read)
				return
			}
			read <- string(buf)
		}
	}()
	for _, want := range []string{"hello\n", "again\n"} {
		select {
		case got := <-read:
			if got != want {
				t.Fatalf("read %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q from the server within 10s: the relay holds it back", want)
		}
		inW.Write([]byte("reply\n"))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Relay: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Relay did not return after the server closed")
	}
	inW.Close()
}

// TestRelayTrickle: stdin that empties again and again between small
// writes, as an interactive session's does; every byte gets through and
// back, and the relay returns.
func TestRelayTrickle(t *testing.T) {
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			ln.Close()
			if err != nil {
				return
			}
			data, _ := io.ReadAll(c)
			c.Write(data)
			c.Close()
		}()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		want := make([]byte, 256<<10)
		rand.Read(want)
		go func() {
			for b := want; len(b) > 0; b = b[4<<10:] {
				inW.Write(b[:4<<10])
				time.Sleep(200 * time.Microsecond)
			}
			inW.Close()
		}()
		got := make(chan []byte)
		go func() { b, _ := io.ReadAll(outR); got <- b }()
		done := make(chan error)
		go func() { done <- Relay(conn, inR, outW); outW.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Relay: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Relay did not return")
		}
		if b := <-got; !bytes.Equal(b, want) {
			t.Errorf("got %d bytes back, want %d", len(b), len(want))
		}
		inR.Close()
		outR.Close()
	}
}
