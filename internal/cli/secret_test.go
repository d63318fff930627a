package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretOutput: --output files are created with mode 0600 and replace
// a file others could read; standard output that is such a file gets a
// warning with the fix; --init with an --output it cannot write leaves
// the knock config as it was.
func TestSecretOutput(t *testing.T) {
	dir := t.TempDir()
	runWith := func(stdout *os.File, args ...string) (int, string) {
		var stderr bytes.Buffer
		status := run(context.Background(), args, strings.NewReader(""), stdout, &stderr)
		return status, stderr.String()
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()

	out := filepath.Join(dir, "rules.txt")
	if err := os.WriteFile(out, []byte("old, readable by all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(out, 0o644) // whatever the umask
	if status, stderr := runWith(devnull, "--rules", "--sequence", "9187", "--port", "22", "--output", out); status != exitOK {
		t.Fatalf("--rules --output: status %d: %s", status, stderr)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	if st.Mode().Perm() != 0o600 || !strings.Contains(string(data), "--name knocks_") {
		t.Errorf("--output file: mode %04o, %d bytes; want 0600 and the rules", st.Mode().Perm(), len(data))
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".rules.txt.tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	for _, mode := range []os.FileMode{0o644, 0o600} {
		f, err := os.OpenFile(filepath.Join(dir, "stdout"+mode.String()), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			t.Fatal(err)
		}
		f.Chmod(mode)
		status, stderr := runWith(f, "--new-sequence")
		f.Close()
		warned := strings.Contains(stderr, "knockssh: warning: standard output is a file others may read") && strings.Contains(stderr, "--output FILE")
		if status != exitOK || warned != (mode == 0o644) {
			t.Errorf("--new-sequence > a %04o file: status %d, warned %v: %q", mode, status, warned, stderr)
		}
	}

	kc := filepath.Join(dir, "knock_config")
	status, stderr := runWith(devnull, "--init", "--config", kc, "--output", filepath.Join(dir, "no", "such", "dir", "rules"), "homeserver")
	if status == exitOK || !strings.Contains(stderr, "--output") {
		t.Errorf("--init with an unwritable --output: status %d: %q", status, stderr)
	}
	if _, err := os.Stat(kc); !os.IsNotExist(err) {
		t.Errorf("--init with an unwritable --output wrote the knock config (%v)", err)
	}
}
