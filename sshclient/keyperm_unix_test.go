//go:build unix

package sshclient

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/knockssh/knockssh/internal/sshconfig"
)

// TestKeyPermissions: a private key file of the user's that others may
// read is ignored, with ssh's reason and the fix, as ssh-keygen (OpenSSH's
// sshkey_perm_ok, the oracle) refuses it; modes only the user has are
// used.
func TestKeyPermissions(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs OpenSSH's ssh-keygen for this test: %v", err)
		}
		t.Skip("no ssh-keygen")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700, 0o640, 0o604, 0o644, 0o660, 0o610, 0o601} {
		if err := os.Chmod(key, mode); err != nil {
			t.Fatal(err)
		}
		sshRefuses := false
		if out, err := exec.Command(keygen, "-y", "-f", key).CombinedOutput(); err != nil {
			sshRefuses = bytes.Contains(out, []byte("UNPROTECTED PRIVATE KEY FILE"))
			if !sshRefuses {
				t.Fatalf("%04o: ssh-keygen -y: %v: %s", mode, err, out)
			}
		}
		_, _, err := loadIdentity(key, nil, 1)
		var perm *sshconfig.KeyPermError
		if refused := errors.As(err, &perm); refused != sshRefuses || !refused && err != nil {
			t.Errorf("%04o: loadIdentity: %v; ssh refuses it: %v", mode, err, sshRefuses)
		}
		if !sshRefuses {
			continue
		}
		var stderr bytes.Buffer
		_, signers := publicKeySigners(&HostConfig{IdentityFiles: []string{key}}, &Options{Stderr: &stderr}, nil)
		want := fmt.Sprintf("Warning: UNPROTECTED PRIVATE KEY FILE: permissions %04o for '%s' are too open; it is required that your private key files are NOT accessible by others; this private key will be ignored (chmod 600 %s).\n", mode, key, key)
		if len(signers) != 0 || stderr.String() != want {
			t.Errorf("%04o: %d signers, stderr %q, want none and %q", mode, len(signers), stderr.String(), want)
		}
	}
}

// TestConfigPermissions: the native client refuses the ssh configs ssh
// refuses (readconf.c): an included file, or ~/.ssh/config, that others
// may write; the -F file itself is not checked. ssh -G is the oracle for
// the included files (but for Debian's leniency with group write).
func TestConfigPermissions(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs OpenSSH's ssh for this test: %v", err)
		}
		t.Skip("no ssh")
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	cfg := filepath.Join(dir, "cfg")
	inc := filepath.Join(dir, "inc")
	if err := os.WriteFile(cfg, []byte("Include "+inc+"\nHost *\n  Port 2200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inc, []byte("Host h\n  HostName 192.0.2.7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cfg, inc os.FileMode
	}{{0o600, 0o600}, {0o666, 0o600}, {0o600, 0o644}, {0o600, 0o664}, {0o600, 0o646}, {0o600, 0o620}, {0o600, 0o602}} {
		os.Chmod(cfg, tt.cfg)
		os.Chmod(inc, tt.inc)
		out, sshErr := exec.Command(sshBin, "-G", "-F", cfg, "h").CombinedOutput()
		if sshErr != nil && !bytes.Contains(out, []byte("Bad owner or permissions on "+inc)) {
			t.Fatalf("ssh -G: %v: %s", sshErr, out)
		}
		_, err := ResolveHost("h", &Options{ConfigFile: cfg})
		var perm *sshconfig.ConfigPermError
		// Upstream refuses a group-writable file; Debian's ssh accepts one
		// whose group is the user's own private group (its
		// user-group-modes patch). knockssh keeps upstream's rule.
		sshRefuses := sshErr != nil || tt.inc&0o020 != 0
		if sshRefuses != errors.As(err, &perm) || !sshRefuses && err != nil {
			t.Errorf("-F %04o including %04o: %v; ssh -G: %v", tt.cfg, tt.inc, err, sshErr)
		}
		if err != nil && (perm.Path != inc || perm.Hint() != "chmod go-w "+inc) {
			t.Errorf("-F %04o including %04o: %v, hint %q", tt.cfg, tt.inc, err, perm.Hint())
		}
	}
	// ~/.ssh/config itself (ssh reads its user's home from the password
	// database, not $HOME: no oracle here).
	user := filepath.Join(dir, ".ssh", "config")
	if err := os.MkdirAll(filepath.Dir(user), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o600, 0o644, 0o664, 0o602} {
		if err := os.WriteFile(user, []byte("Host h\n  Port 2200\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(user, mode)
		_, err := ResolveHost("h", &Options{})
		if refused := err != nil; refused != (mode&0o022 != 0) || refused && !strings.Contains(err.Error(), fmt.Sprintf("bad owner or permissions on %s: it is writable by others (mode %04o)", user, mode)) {
			t.Errorf("~/.ssh/config %04o: %v", mode, err)
		}
	}
}
