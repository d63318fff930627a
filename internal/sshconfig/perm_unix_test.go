//go:build unix

package sshconfig

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the uid that owns another user's files in these tests.
const nobody = 65534

// needRoot skips a test that chowns files, and fails it in CI.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs this test as root: it gives files to another user")
		}
		t.Skip("needs root to give files to another user")
	}
}

// checkFile reads path as the readers do and checks it.
func checkFile(t *testing.T, path string, secret bool) (error, []string) {
	t.Helper()
	_, fi, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	if secret {
		return CheckPerm(path, fi, func(s string) { warnings = append(warnings, s) }), warnings
	}
	return CheckTrust(path, fi), nil
}

// TestCheckPermFiles checks real files, directories and symlinks, as
// root, for whom another user's file is one of uid 65534's.
func TestCheckPermFiles(t *testing.T) {
	needRoot(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	ssh := filepath.Join(home, ".ssh")
	write(t, filepath.Join(ssh, "mine"), "Host h\n", 0o600)

	// Another user's 0644 file, in a directory of theirs, and a symlink
	// to it where the user's knock config goes: the reproduced attack.
	other := filepath.Join(t.TempDir(), "bob")
	write(t, filepath.Join(other, "knock_config"), "Host *\n  KnockAddress 203.0.113.1\n", 0o644)
	chown(t, filepath.Join(other, "knock_config"), nobody)
	link := filepath.Join(ssh, "knock_config")
	if err := os.Symlink(filepath.Join(other, "knock_config"), link); err != nil {
		t.Fatal(err)
	}
	err, _ := checkFile(t, link, true)
	var pe *PermError
	if !errors.As(err, &pe) || pe.Owner == "" || pe.Dir != "" ||
		!strings.Contains(err.Error(), link+" (a symlink to "+filepath.Join(other, "knock_config")+") is owned by uid 65534") {
		t.Errorf("symlink to another user's file: %v", err)
	}
	// The same file, owned by the user but in the other user's
	// directory: they could replace it.
	chown(t, other, nobody)
	chown(t, filepath.Join(other, "knock_config"), 0)
	os.Chmod(filepath.Join(other, "knock_config"), 0o600)
	if err, _ := checkFile(t, link, true); !errors.As(err, &pe) || pe.Dir != other || !strings.Contains(err.Error(), "its directory "+other+" is owned by uid 65534") {
		t.Errorf("a file of the user's in another user's directory: %v", err)
	}
	// A symlink to a file of the user's in a directory of the user's.
	os.Remove(link)
	if err := os.Symlink("mine", link); err != nil {
		t.Fatal(err)
	}
	if err, w := checkFile(t, link, true); err != nil || len(w) > 0 {
		t.Errorf("symlink to the user's own file: %v %q", err, w)
	}

	// A directory on the way that others may write, below home and
	// outside it; the sticky bit makes one safe, as /tmp.
	for _, tt := range []struct {
		name string
		base string // "" for outside home
	}{{"in home", home}, {"outside home", ""}} {
		base := tt.base
		if base == "" {
			base = t.TempDir()
		}
		open := filepath.Join(base, "open-"+strings.ReplaceAll(tt.name, " ", "-"))
		path := filepath.Join(open, "sub", "kc")
		write(t, path, "Host h\n", 0o600)
		for _, mode := range []os.FileMode{0o777, 0o775, 0o757} {
			chmod(t, open, mode)
			err, _ := checkFile(t, path, true)
			if !errors.As(err, &pe) || pe.Dir != open || pe.Hint() != "chmod go-w "+open ||
				err.Error() != fmt.Sprintf("%s: its directory %s is writable by others (mode %04o): they could replace the file", path, open, mode) {
				t.Errorf("%s, directory %04o: %v", tt.name, mode, err)
			}
			if err, _ := checkFile(t, path, false); !errors.As(err, &pe) || pe.Dir != open {
				t.Errorf("%s, directory %04o, a file that steers: %v", tt.name, mode, err)
			}
		}
		chmod(t, open, os.ModeSticky|0o777)
		if err, _ := checkFile(t, path, true); err != nil {
			t.Errorf("%s, sticky directory: %v", tt.name, err)
		}
		// In a sticky directory, an entry of another user's is theirs
		// to replace.
		chown(t, filepath.Join(open, "sub"), nobody)
		if err, _ := checkFile(t, path, true); !errors.As(err, &pe) || pe.Dir != filepath.Join(open, "sub") {
			t.Errorf("%s, another user's directory in a sticky one: %v", tt.name, err)
		}
		chown(t, filepath.Join(open, "sub"), 0)
	}

	// Home itself is checked; what is above it is not.
	chmod(t, home, 0o777)
	if err, _ := checkFile(t, filepath.Join(ssh, "mine"), true); !errors.As(err, &pe) || pe.Dir != home {
		t.Errorf("home 0777: %v", err)
	}
	chmod(t, home, 0o700)
	above := t.TempDir()
	write(t, filepath.Join(above, "home", ".ssh", "config"), "Host h\n", 0o600)
	chmod(t, above, 0o777)
	t.Setenv("HOME", filepath.Join(above, "home"))
	if err, _ := checkFile(t, filepath.Join(above, "home", ".ssh", "config"), true); err != nil {
		t.Errorf("a directory above home that others may write: %v", err)
	}
	t.Setenv("HOME", home)

	// A file replaced between its reading and its check.
	path := filepath.Join(ssh, "mine")
	_, fi, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path+".new", "Host h\n", 0o600) // another inode, as both exist
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if err := CheckPerm(path, fi, nil); err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Errorf("replaced file: %v", err)
	}
}

// TestCheckPermAsUser runs the checks as uid 65534: root's files and
// directories are trusted (a readable one of root's with a warning), the
// user's own too, and another user's (root's test files given to uid
// 1000) not.
func TestCheckPermAsUser(t *testing.T) {
	if dir := os.Getenv("KNOCKSSH_TRUST_HELPER"); dir != "" {
		trustHelper(dir)
		return
	}
	needRoot(t)
	dir, err := os.MkdirTemp("", "trust")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	chmod(t, dir, 0o755)
	bin := filepath.Join(dir, "test")
	copyExe(t, bin)
	home := filepath.Join(dir, "home")
	write(t, filepath.Join(home, ".ssh", "knock_config"), "Host h\n", 0o600)
	write(t, filepath.Join(home, ".ssh", "open"), "Host h\n", 0o644)
	chownR(t, home, nobody)
	write(t, filepath.Join(dir, "root644"), "Host h\n", 0o644)
	write(t, filepath.Join(dir, "users"), "Host h\n", 0o644)
	chown(t, filepath.Join(dir, "users"), 1000)

	cmd := exec.Command(bin, "-test.run=^TestCheckPermAsUser$")
	cmd.Env = append(os.Environ(), "KNOCKSSH_TRUST_HELPER="+dir, "HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := []string{
		"home/.ssh/knock_config: ok",
		"home/.ssh/open: " + filepath.Join(home, ".ssh", "open") + " is readable by others (mode 0644): it holds knock secrets",
		"root644: ok; warning: " + filepath.Join(dir, "root644") + " is readable by others (mode 0644): it holds knock secrets; its owner, root, may chmod 600 it",
		"root644 steering: ok",
		"users steering: " + filepath.Join(dir, "users") + " is owned by uid 1000",
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) < len(want) {
		t.Fatalf("as uid 65534:\n%s", out)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("as uid 65534: %q, want %q", got[i], w)
		}
	}
}

// trustHelper is TestCheckPermAsUser's other side, run as uid 65534.
func trustHelper(dir string) {
	for _, f := range []struct {
		name   string
		secret bool
	}{{"home/.ssh/knock_config", true}, {"home/.ssh/open", true}, {"root644", true}, {"root644", false}, {"users", false}} {
		path := filepath.Join(dir, f.name)
		_, fi, err := ReadFile(path)
		var w []string
		if err == nil && f.secret {
			err = CheckPerm(path, fi, func(s string) { w = append(w, s) })
		} else if err == nil {
			err = CheckTrust(path, fi)
		}
		name := f.name
		if !f.secret {
			name += " steering"
		}
		switch {
		case err != nil:
			fmt.Printf("%s: %v\n", name, err)
		case len(w) > 0:
			fmt.Printf("%s: ok; warning: %s\n", name, strings.Join(w, "; "))
		default:
			fmt.Printf("%s: ok\n", name)
		}
	}
	os.Exit(0)
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func chownR(t *testing.T, root string, uid int) {
	t.Helper()
	err := filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// copyExe copies the test binary to path, for another user to run.
func copyExe(t *testing.T, path string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
