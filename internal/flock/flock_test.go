package flock

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestLock: a second Lock waits (and says so once) until the first file
// is closed, and gives up when its context ends.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l")
	a, err := Lock(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	told := 0
	if _, err := Lock(ctx, path, func() { told++ }); err != context.DeadlineExceeded || told != 1 {
		t.Fatalf("a second lock while the first is held: %v, told %d times", err, told)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		a.Close()
	}()
	b, err := Lock(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("after the first let go: %v", err)
	}
	b.Close()
}
