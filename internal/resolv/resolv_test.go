package resolv

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func TestNameservers(t *testing.T) {
	for _, tc := range []struct {
		conf string
		want []string
	}{
		{"nameserver 8.8.8.8\nnameserver 8.8.4.4\n", []string{"8.8.8.8:53", "8.8.4.4:53"}},
		{"# Termux\nsearch lan\nnameserver 2001:db8::53\n", []string{"[2001:db8::53]:53"}},
		{"nameserver fe80::1%wlan0\n", []string{"[fe80::1%wlan0]:53"}},
		{"nameserver\nnameserver dns.example\nnameserver 192.0.2.1 extra\n", []string{"192.0.2.1:53"}},
		{"", nil},
	} {
		if got := Nameservers([]byte(tc.conf)); !slices.Equal(got, tc.want) {
			t.Errorf("Nameservers(%q) = %q, want %q", tc.conf, got, tc.want)
		}
	}
}

func FuzzNameservers(f *testing.F) {
	f.Add([]byte("nameserver 8.8.8.8\nnameserver fe80::1%wlan0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range Nameservers(data) {
			if _, _, err := net.SplitHostPort(a); err != nil {
				t.Fatalf("%q: %v", a, err)
			}
		}
	})
}

// TestResolverAsksConfiguredServer: the resolver dials the nameservers of
// the file in turn, not the resolver's default 127.0.0.1:53.
func TestResolverAsksConfiguredServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var dialed []string
	r := resolver(path, func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		dialed = append(dialed, addr)
		return nil, errors.New("no network in this test")
	})
	if r == nil {
		t.Fatal("no resolver from a file with a nameserver")
	}
	if _, err := r.LookupHost(context.Background(), "host.example"); err == nil {
		t.Fatal("a lookup without a network succeeded")
	}
	// The A and AAAA lookups run at once: both servers are asked, in
	// some order, and nothing else.
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(dialed, "192.0.2.53:53") || !slices.Contains(dialed, "[2001:db8::53]:53") {
		t.Errorf("dialed %q, want 192.0.2.53:53 and [2001:db8::53]:53, from the file", dialed)
	}
	for _, a := range dialed {
		if a != "192.0.2.53:53" && a != "[2001:db8::53]:53" {
			t.Errorf("dialed %s, which the file does not name", a)
		}
	}
	if resolver(filepath.Join(t.TempDir(), "none"), nil) != nil {
		t.Error("a resolver from a missing file")
	}
}
