package sshconfig

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckPermWindows: a file made in the user's temporary directory
// passes; once Everyone may write it, it is refused with a hint, and once
// Users may read it, it is warned about. (Runs on Windows only.)
func TestCheckPermWindows(t *testing.T) {
	p := filepath.Join(t.TempDir(), "knock_config")
	if err := os.WriteFile(p, []byte("Host x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var warned []string
	warn := func(s string) { warned = append(warned, s) }
	if err := CheckPerm(p, nil, warn); err != nil || len(warned) != 0 {
		t.Fatalf("a new file of mine: %v, warnings %q", err, warned)
	}
	icacls := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("icacls", append([]string{p}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("icacls %v: %v\n%s", args, err, out)
		}
	}
	icacls("/grant", "*S-1-5-32-545:(R)")
	if err := CheckPerm(p, nil, warn); err != nil || len(warned) != 1 || !strings.Contains(warned[0], "S-1-5-32-545") {
		t.Fatalf("readable by Users: %v, warnings %q", err, warned)
	}
	icacls("/grant", "*S-1-1-0:(W)")
	err := CheckPerm(p, nil, nil)
	var h interface{ Hint() string }
	if err == nil || !strings.Contains(err.Error(), "writable by") || !errors.As(err, &h) || !strings.Contains(h.Hint(), "*S-1-1-0") {
		t.Fatalf("writable by Everyone: %v", err)
	}
}
