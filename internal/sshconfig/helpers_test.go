package sshconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// needSSH returns OpenSSH's ssh, the oracle of the differential tests; a
// missing ssh skips the test, and fails it in CI.
func needSSH(t testing.TB) string {
	t.Helper()
	ssh, err := exec.LookPath("ssh")
	if err != nil || runtime.GOOS == "windows" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs OpenSSH's ssh for this test: %v", err)
		}
		t.Skip("no ssh")
	}
	return ssh
}

func write(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}
