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
