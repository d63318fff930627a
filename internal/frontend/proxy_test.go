package frontend

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIdentPath: one file a host and port, named portably, in the lock
// directory.
func TestIdentPath(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]string{}
	for _, hp := range [][2]string{
		{"lab", "22"}, {"LAB", "22"}, {"lab", "2222"}, {"a_b", "22"}, {"a:b", "22"}, {"a", "b_22"},
		{"2001:db8::1", "22"}, {"fe80::1%eth0", "22"}, {"../etc", "22"}, {strings.Repeat("h", 300), "22"},
	} {
		p := IdentPath(dir, hp[0], hp[1])
		name := filepath.Base(p)
		if filepath.Dir(p) != dir || !strings.HasPrefix(name, "ident-") || len(name) > 200 ||
			strings.Count(name, "_") > 1 || strings.ContainsAny(name, `/\:*?"<>| `) {
			t.Errorf("IdentPath(%q, %q) = %q: not one portable name in dir", hp[0], hp[1], p)
		}
		key := strings.ToLower(hp[0]) + " " + hp[1]
		if other, ok := seen[name]; ok && other != key {
			t.Errorf("%q and %q share %s", other, key, name)
		}
		seen[name] = key
	}
	if IdentPath(dir, "lab", "22") != IdentPath(dir, "LAB", "22") {
		t.Errorf("host names differ in case only: two files")
	}
	if got := filepath.Base(IdentPath(dir, "192.0.2.9", "22")); got != "ident-192.0.2.9_22" {
		t.Errorf("IdentPath(192.0.2.9, 22) = %s", got)
	}
}

// TestStoreIdent: a new directory of mode 0700 and a file of mode 0600,
// replaced whole; what is not an identification string is not one
// learned; a directory others may write is refused.
func TestStoreIdent(t *testing.T) {
	path := IdentPath(filepath.Join(t.TempDir(), "knockssh"), "lab", "22")
	if LoadIdent(path) != nil {
		t.Fatal("learned before anything was stored")
	}
	for _, line := range []string{"SSH-2.0-A\r\n", "SSH-2.0-OpenSSH_9.6\n"} {
		if err := storeIdent(path, []byte(line)); err != nil {
			t.Fatal(err)
		}
		if got := LoadIdent(path); string(got) != line {
			t.Errorf("stored %q, loaded %q", line, got)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files, want 1 (no temporary left)", len(entries))
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		di, _ := os.Stat(filepath.Dir(path))
		if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
			t.Errorf("modes %v and %v, want 0600 in 0700", fi.Mode(), di.Mode())
		}
	}
	for _, bad := range []string{"SSH-2.0-A", "garbage\n", "SSH-2.0-" + strings.Repeat("a", 300) + "\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if got := LoadIdent(path); got != nil {
			t.Errorf("%q loaded as %q", bad, got)
		}
	}
	if runtime.GOOS != "windows" {
		os.Chmod(filepath.Dir(path), 0o777)
		if err := storeIdent(path, []byte("SSH-2.0-A\r\n")); err == nil {
			t.Errorf("stored in a directory others may write")
		}
	}
}

// testProxy is a Proxy that learns in a directory of its own, with
// learned (nil for none) given to ssh already when early.
func testProxy(t *testing.T, learned string, early bool) (*Proxy, *bytes.Buffer) {
	t.Helper()
	out := &bytes.Buffer{}
	p := &Proxy{host: "lab", port: "22", path: IdentPath(filepath.Join(t.TempDir(), "knockssh"), "lab", "22"), out: out}
	if learned != "" {
		if err := storeIdent(p.path, []byte(learned)); err != nil {
			t.Fatal(err)
		}
		p.learned = []byte(learned)
	}
	p.early = early
	return p, out
}

// serve returns a connection whose server sends sent and closes.
func serve(sent string) net.Conn {
	c, s := net.Pipe()
	go func() { s.Write([]byte(sent)); s.Close() }()
	return c
}

// TestProxyHead: the server's identification string learned, checked
// against the one ssh had, swallowed or passed on.
func TestProxyHead(t *testing.T) {
	const a, b = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u4\r\n"
	for _, tc := range []struct {
		name, learned string
		early         bool
		sent          string
		give          string // what goes to ssh
		err           string // the IdentError's message, in part
		after         string // the string learned after
	}{
		{"first connection", "", false, "Hi\r\n" + a + "KEX", "Hi\r\n" + a + "KEX", "", a},
		{"not early, changed", a, false, b + "KEX", b + "KEX", "", b},
		{"early, same", a, true, a + "KEX", "KEX", "", a},
		{"early, lines before swallowed", a, true, "Hi\r\nthere\n" + a + "KEX", "KEX", "", a},
		{"early, changed", a, true, b + "KEX", "", `lab:22 now identifies as "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u4", not as "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3" learned from an earlier connection and given to ssh in its place: stopped, as ssh's key exchange would fail; learned the new one, so the next connection gets in`, b},
		{"early, LF for CR LF", a, true, strings.TrimSuffix(a, "\r\n") + "\nKEX", "KEX", "", a},
		{"early, one byte differs", a, true, strings.Replace(a, "p1", "P1", 1) + "KEX", "", "now identifies as", strings.Replace(a, "p1", "P1", 1)},
		{"early, too long to learn", a, true, "SSH-2.0-" + strings.Repeat("x", 300) + "\r\n", "", "the new one not one to learn: 310 bytes long, more than RFC 4253's 255; set KnockEarlyBanner no", a},
		{"early, closed first", a, true, "Too many connections\r\n", "", `lab:22 sent no identification string after the knock (its first line: "Too many connections"): it closed the connection first`, a},
		{"not early, closed first", "", false, "Too many connections\r\n", "Too many connections\r\n", "", ""},
		{"not early, garbage", "", false, "\x00\x01\n", "\x00\x01\n", "", ""},
		{"early, garbage", a, true, "\x00\x01\n", "", "line 1 holds a NUL", a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := testProxy(t, tc.learned, tc.early)
			var debug []string
			p.Debug = func(s string) { debug = append(debug, s) }
			give, err := p.Head(serve(tc.sent))
			var ie *IdentError
			switch {
			case tc.err == "" && err != nil, tc.err != "" && (!errors.As(err, &ie) || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want %q", err, tc.err)
			case string(give) != tc.give:
				t.Errorf("gives ssh %q, want %q", give, tc.give)
			}
			if got := LoadIdent(p.path); string(got) != tc.after {
				t.Errorf("learned %q after, want %q", got, tc.after)
			}
			if tc.name == "early, lines before swallowed" && (len(debug) != 2 || !strings.Contains(debug[0], `lab:22 sent before its identification string: "Hi"`)) {
				t.Errorf("-v shows %q", debug)
			}
		})
	}
}

// TestProxyHeadTimeout: a server that sends nothing stops an early
// connection after identTimeout, and leaves a late one to ssh.
func TestProxyHeadTimeout(t *testing.T) {
	defer func(d time.Duration) { identTimeout = d }(identTimeout)
	identTimeout = 50 * time.Millisecond
	for _, early := range []bool{true, false} {
		p, _ := testProxy(t, "SSH-2.0-A\r\n", early)
		c, s := net.Pipe()
		defer s.Close()
		give, err := p.Head(c)
		if early && (err == nil || !strings.Contains(err.Error(), "lab:22 sent no identification string after the knock within 50ms")) ||
			!early && (err != nil || len(give) != 0) {
			t.Errorf("early %v: %q, %v", early, give, err)
		}
		if c.SetReadDeadline(time.Time{}); !early {
			go s.Write([]byte("late"))
			buf := make([]byte, 4)
			if _, err := c.Read(buf); err != nil {
				t.Errorf("the relay cannot read after the deadline: %v", err)
			}
		}
	}
}

// TestAnswerEarly: the learned string goes to ssh at once; without one,
// a string another connection learns is given at the next burst; none
// goes once ssh has hung up.
func TestAnswerEarly(t *testing.T) {
	p, out := testProxy(t, "SSH-2.0-A\r\n", false)
	if ok, err := p.AnswerEarly(); !ok || err != nil || out.String() != "SSH-2.0-A\r\n" || !p.Early() {
		t.Errorf("AnswerEarly: %v %v, gave %q", ok, err, out.String())
	}
	p.lookAgain()
	if out.String() != "SSH-2.0-A\r\n" {
		t.Errorf("given twice: %q", out.String())
	}

	p, out = testProxy(t, "", false)
	if ok, err := p.AnswerEarly(); ok || err != nil || out.Len() != 0 {
		t.Errorf("AnswerEarly with nothing learned: %v %v, gave %q", ok, err, out.String())
	}
	p.lookAgain()
	storeIdent(p.path, []byte("SSH-2.0-B\r\n")) // another connection learned it
	p.lookAgain()
	if out.String() != "SSH-2.0-B\r\n" || !p.Early() {
		t.Errorf("after another connection learned it: gave %q", out.String())
	}

	p, out = testProxy(t, "", false)
	p.AnswerEarly()
	p.HangUp()
	storeIdent(p.path, []byte("SSH-2.0-B\r\n"))
	p.lookAgain()
	if out.Len() != 0 || p.Early() {
		t.Errorf("gave %q after ssh hung up", out.String())
	}

	p, out = testProxy(t, "SSH-2.0-A\r\n", false)
	p.path = "" // KnockEarlyBanner no
	if ok, _ := p.AnswerEarly(); ok || out.Len() != 0 {
		t.Errorf("KnockEarlyBanner no: gave %q", out.String())
	}
}
