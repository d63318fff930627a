package frontend

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// relayEcho relays want, written to the relay's stdin by write (which
// closes it), through real pipes and a TCP connection to an echo server on
// the loopback interface that answers after reading everything. It returns
// the bytes that came back and Relay's error, and fails the test when
// Relay does not return.
func relayEcho(t *testing.T, want []byte, write func(w *os.File, b []byte)) ([]byte, error) {
	t.Helper()
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
	defer inR.Close()
	defer outR.Close()
	go write(inW, want)
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(outR); got <- b }()
	done := make(chan error)
	go func() { done <- Relay(conn, inR, outW, nil); outW.Close() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%d bytes: Relay did not return", len(want))
	}
	return <-got, err
}

// TestRelay: the relay must pass the client's end of file on (half-close)
// and bring every byte back before it returns.
func TestRelay(t *testing.T) {
	for _, size := range []int{0, 1, 100 << 10, 8 << 20} {
		want := make([]byte, size)
		rand.Read(want)
		b, err := relayEcho(t, want, func(w *os.File, b []byte) { w.Write(b); w.Close() })
		if err != nil {
			t.Errorf("size %d: Relay: %v", size, err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("size %d: got %d bytes back", size, len(b))
		}
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
	go func() { done <- Relay(conn, inR, outW, nil); outW.Close() }()
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

// TestRelayHead: a Head reads the server's identification string and
// gives ssh other bytes in its place; the upload runs meanwhile (this
// server speaks only after the client's first line), and the rest goes by
// the relay as before: through ssh's pipes (Linux's splice path) and
// through other readers and writers. A Head's error ends the relay.
func TestRelayHead(t *testing.T) {
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	head := func(c net.Conn) ([]byte, error) {
		data, _, end, _, err := readIdent(c)
		if err != nil {
			return nil, err
		}
		return append([]byte("early\n"), data[end:]...), nil
	}
	for _, files := range []bool{true, false} {
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
			defer c.Close()
			first := make([]byte, 6)
			if _, err := io.ReadFull(c, first); err != nil || string(first) != "hello\n" {
				return
			}
			c.Write([]byte("SSH-2.0-S\r\nK"))
			data, _ := io.ReadAll(c)
			c.Write(data)
		}()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		sent := append([]byte("hello\n"), payload...)
		want := append([]byte("early\nK"), payload...)
		done := make(chan error, 1)
		var got []byte
		if files {
			inR, inW, _ := os.Pipe()
			outR, outW, _ := os.Pipe()
			go func() { inW.Write(sent); inW.Close() }()
			read := make(chan []byte)
			go func() { b, _ := io.ReadAll(outR); read <- b }()
			go func() { done <- Relay(conn, inR, outW, head); outW.Close() }()
			select {
			case got = <-read:
			case <-time.After(20 * time.Second):
				t.Fatal("files: the relay did not end")
			}
			done <- <-done // Relay has returned: its files may close
			inR.Close()
			outR.Close()
		} else {
			var out bytes.Buffer
			go func() { done <- Relay(conn, bytes.NewReader(sent), &out, head) }()
			select {
			case <-time.After(20 * time.Second):
				t.Fatal("readers: the relay did not end")
			case err := <-done:
				done <- err
			}
			got = out.Bytes()
		}
		if err := <-done; err != nil {
			t.Errorf("files %v: Relay: %v", files, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("files %v: ssh got %d bytes, want %d", files, len(got), len(want))
		}
	}

	// The head's error is the relay's.
	c, s := net.Pipe()
	go func() { s.Write([]byte("\x00\n")); s.Close() }()
	inR, inW, _ := os.Pipe()
	defer inW.Close()
	if err := Relay(c, inR, io.Discard, head); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("Relay with a failing head: %v", err)
	}
}

// TestRelayTrickle: stdin that empties again and again between small
// writes, as an interactive session's does; every byte gets through and
// back, and the relay returns.
func TestRelayTrickle(t *testing.T) {
	for range 5 {
		want := make([]byte, 256<<10)
		rand.Read(want)
		b, err := relayEcho(t, want, func(w *os.File, b []byte) {
			for ; len(b) > 0; b = b[4<<10:] {
				w.Write(b[:4<<10])
				time.Sleep(200 * time.Microsecond)
			}
			w.Close()
		})
		if err != nil {
			t.Errorf("Relay: %v", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("got %d bytes back, want %d", len(b), len(want))
		}
	}
}
