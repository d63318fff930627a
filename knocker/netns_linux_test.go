package knocker

import (
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGoHereFollowsNamespace: a caller on a thread in a network namespace
// of its own gets goroutines in that namespace, whichever thread they run
// on; and one in the process's namespace gets goroutines there.
func TestGoHereFollowsNamespace(t *testing.T) {
	if unix.Geteuid() != 0 {
		if os.Getenv("CI") == "true" { // as lab.Require: CI fails, never skips
			t.Fatal("needs root to create a network namespace")
		}
		t.Skip("needs root to create a network namespace")
	}
	name := "ks-gohere-test"
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	netns := func() (uint64, error) {
		var st unix.Stat_t
		err := unix.Stat(threadNetns, &st)
		return st.Ino, err
	}
	process, err := netns()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends here
		fd, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		mine, _ := netns()
		spawn, release := goHere()
		inos := make(chan uint64, 8)
		for range 8 {
			spawn(func(err error) {
				if err != nil {
					t.Error(err)
				}
				ino, _ := netns()
				inos <- ino
			})
		}
		release()
		for range 8 {
			if ino := <-inos; ino != mine || ino == process {
				t.Errorf("a goroutine ran in namespace %d, want the caller's %d (the process's is %d)", ino, mine, process)
			}
		}
	}()
	<-done
	spawn, release := goHere()
	got := make(chan uint64, 1)
	spawn(func(error) { ino, _ := netns(); got <- ino })
	release()
	if ino := <-got; ino != process {
		t.Errorf("from the process's namespace, a goroutine ran in %d, want %d", ino, process)
	}
}
