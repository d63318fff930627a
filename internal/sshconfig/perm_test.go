package sshconfig

import (
	"io/fs"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestJudge is the trust decision, given the owner and mode of the file
// and of each directory above it, for user 1000.
func TestJudge(t *testing.T) {
	const me, bob = 1000, 1001
	dir := func(path string, uid int, mode fs.FileMode) entry {
		return entry{path: path, uid: uid, mode: fs.ModeDir | mode}
	}
	home := []entry{dir("/home/me/.ssh", me, 0o700), dir("/home/me", me, 0o755)}
	for _, tt := range []struct {
		name   string
		file   entry
		dirs   []entry
		secret bool
		err    string // "" for trusted
		hint   string
		warn   string
	}{
		{name: "mine 0600", file: entry{"kc", me, 0o600}, dirs: home, secret: true},
		{name: "mine 0400", file: entry{"kc", me, 0o400}, dirs: home, secret: true},
		{name: "root's 0600", file: entry{"kc", 0, 0o600}, dirs: home, secret: true},
		{name: "mine 0644, steering", file: entry{"kc", me, 0o644}, dirs: home},
		{name: "mine 0644, secret", file: entry{"kc", me, 0o644}, dirs: home, secret: true,
			err: "kc is readable by others (mode 0644): it holds knock secrets", hint: "chmod 600 kc"},
		{name: "mine 0640, secret", file: entry{"kc", me, 0o640}, dirs: home, secret: true,
			err: "kc is readable by others (mode 0640)", hint: "chmod 600 kc"},
		{name: "root's 0644, secret: a warning", file: entry{"/etc/ssh/knock_config", 0, 0o644},
			dirs: []entry{dir("/etc/ssh", 0, 0o755), dir("/etc", 0, 0o755), dir("/", 0, 0o755)}, secret: true,
			warn: "/etc/ssh/knock_config is readable by others (mode 0644): it holds knock secrets; its owner, root, may chmod 600 it"},
		{name: "bob's 0600", file: entry{"kc", bob, 0o600}, dirs: home, secret: true,
			err: "kc is owned by uid 1001", hint: "remove kc if it is not yours; if it is: chown $(id -un) kc (as root)"},
		{name: "bob's 0644, steering", file: entry{"config", bob, 0o644}, dirs: home,
			err: "config is owned by uid 1001"},
		{name: "mine 0620", file: entry{"kc", me, 0o620}, dirs: home, secret: true,
			err: "kc is writable by others (mode 0620): it holds knock secrets", hint: "chmod 600 kc"},
		{name: "mine 0666, steering", file: entry{"config", me, 0o666}, dirs: home,
			err: "config is writable by others (mode 0666): it sets where knock secrets go", hint: "chmod go-w config"},
		{name: "sticky file bit is not a directory's", file: entry{"kc", me, fs.ModeSticky | 0o602}, dirs: home, secret: true,
			err: "writable by others"},
		{name: "~/.ssh 0770", file: entry{"kc", me, 0o600}, dirs: []entry{dir("/home/me/.ssh", me, 0o770), dir("/home/me", me, 0o755)}, secret: true,
			err: "kc: its directory /home/me/.ssh is writable by others (mode 0770): they could replace the file", hint: "chmod go-w /home/me/.ssh"},
		{name: "home 0757", file: entry{"kc", me, 0o600}, dirs: []entry{dir("/home/me/.ssh", me, 0o700), dir("/home/me", me, 0o757)}, secret: true,
			err: "its directory /home/me is writable by others (mode 0757)"},
		{name: "bob's directory", file: entry{"kc", me, 0o600}, dirs: []entry{dir("/home/bob/pub", bob, 0o755), dir("/home/bob", bob, 0o755)}, secret: true,
			err:  "kc: its directory /home/bob/pub is owned by uid 1001, not by you or root: they could replace the file",
			hint: "move the file to a directory of your own, or chown the directory to yourself (as root: chown $(id -un) /home/bob/pub)"},
		{name: "root's directories", file: entry{"kc", me, 0o600}, dirs: []entry{dir("/srv/knock", 0, 0o755), dir("/srv", 0, 0o755), dir("/", 0, 0o755)}, secret: true},
		{name: "sticky /tmp", file: entry{"kc", me, 0o600}, dirs: []entry{dir("/tmp/d", me, 0o700), dir("/tmp", 0, fs.ModeSticky|0o777), dir("/", 0, 0o755)}, secret: true},
		{name: "/tmp without its sticky bit", file: entry{"kc", me, 0o600}, dirs: []entry{dir("/tmp/d", me, 0o700), dir("/tmp", 0, 0o777), dir("/", 0, 0o755)}, secret: true,
			err: "its directory /tmp is writable by others (mode 0777)", hint: "chmod go-w /tmp"},
		{name: "bob's sticky directory", file: entry{"kc", me, 0o600}, dirs: []entry{dir("/home/bob/drop", bob, fs.ModeSticky|0o777), dir("/", 0, 0o755)}, secret: true,
			err: "its directory /home/bob/drop is owned by uid 1001"},
		{name: "root's file in bob's directory", file: entry{"kc", 0, 0o600}, dirs: []entry{dir("/home/bob", bob, 0o700)}, secret: true,
			err: "its directory /home/bob is owned by uid 1001"},
		{name: "an unsafe directory before an unreadable file", file: entry{"kc", me, 0o644}, dirs: []entry{dir("/x", me, 0o777)}, secret: true,
			err: "its directory /x is writable by others"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad, warn := judge(me, tt.file, tt.dirs, tt.secret)
			switch {
			case tt.err == "" && bad != nil:
				t.Errorf("refused: %v", bad)
			case tt.err != "" && bad == nil:
				t.Errorf("trusted, want %q", tt.err)
			case tt.err != "" && !strings.Contains(bad.Error(), tt.err):
				t.Errorf("error %q, want %q", bad, tt.err)
			case tt.hint != "" && bad.Hint() != tt.hint:
				t.Errorf("hint %q, want %q", bad.Hint(), tt.hint)
			}
			if bad != nil && strings.Contains(bad.Error(), "\n") {
				t.Errorf("error %q is not one line", bad)
			}
			if warn != tt.warn {
				t.Errorf("warning %q, want %q", warn, tt.warn)
			}
		})
	}
}

func TestPermErrorTarget(t *testing.T) {
	e := &PermError{Path: "/home/me/.ssh/knock_config", Target: "/home/bob/kc", Owner: "uid 1001 (bob)", Secret: true}
	want := "/home/me/.ssh/knock_config (a symlink to /home/bob/kc) is owned by uid 1001 (bob), not by you or root: it holds knock secrets"
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
}

func TestDirsUp(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix paths")
	}
	for _, tt := range []struct {
		real, home string
		want       []string
	}{
		{"/home/me/.ssh/knock_config", "/home/me", []string{"/home/me/.ssh", "/home/me"}},
		{"/home/me/.ssh/knock_config", "/home/me/", []string{"/home/me/.ssh", "/home/me"}},
		{"/home/me/knock", "/home/me", []string{"/home/me"}},
		{"/home/me2/knock", "/home/me", []string{"/home/me2", "/home", "/"}},
		{"/etc/ssh/knock_config", "/home/me", []string{"/etc/ssh", "/etc", "/"}},
		{"/root/.ssh/config", "/root", []string{"/root/.ssh", "/root"}},
		{"/tmp/x/kc", "", []string{"/tmp/x", "/tmp", "/"}},
		{"/kc", "/", []string{"/"}},
		{"/home/me/kc", "/", []string{"/home/me", "/home", "/"}},
	} {
		if got := dirsUp(tt.real, tt.home); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("dirsUp(%q, %q) = %q, want %q", tt.real, tt.home, got, tt.want)
		}
	}
}

func TestJudgeKey(t *testing.T) {
	const me = 1000
	for _, tt := range []struct {
		key  entry
		want string
	}{
		{entry{"id", me, 0o600}, ""},
		{entry{"id", me, 0o400}, ""},
		{entry{"id", me, 0o640}, "UNPROTECTED PRIVATE KEY FILE: permissions 0640 for 'id' are too open; it is required that your private key files are NOT accessible by others"},
		{entry{"id", me, 0o604}, "permissions 0604"},
		{entry{"id", me, 0o610}, "permissions 0610"},
		{entry{"id", me, 0o620}, "permissions 0620"},
		{entry{"id", 0, 0o644}, ""}, // someone else's: ssh does not judge it
	} {
		err := judgeKey(me, tt.key)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%04o: %v", tt.key.mode, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%04o: %v, want %q", tt.key.mode, err, tt.want)
		case err != nil && err.(*KeyPermError).Hint() != "chmod 600 id":
			t.Errorf("%04o: hint %q", tt.key.mode, err.(*KeyPermError).Hint())
		}
	}
}
