package sshconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// walk returns the lines a Walker hands over for alias, as "key value
// active match" strings.
func walk(t *testing.T, w *Walker, path string) ([]string, error) {
	t.Helper()
	var got []string
	err := w.Walk(path, false, func(l Line) error {
		got = append(got, fmt.Sprintf("%s:%d %s=%s on=%v match=%d", filepath.Base(l.Path), l.Num, l.Key, l.Value, l.Active, l.Match))
		return nil
	})
	return got, err
}

func TestWalk(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.conf")
	write(t, main, strings.Join([]string{
		"Top 1",
		"Host other",
		"  Include inc.conf", // read, never active
		"Host h",
		"  Include inc.conf",
		"  Port 22",
		"Match user x",
		"  Port 1",
		"  Include inc.conf", // not followed in a Match block
		"Host *",
		"  User u",
	}, "\n"), 0o600)
	write(t, filepath.Join(dir, "inc.conf"), "Inc 1\nHost h\n  Inc 2\nHost nothing\n  Inc 3\n", 0o600)
	got, err := walk(t, &Walker{Alias: "h"}, main)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"main.conf:1 Top=1 on=true match=0",
		"inc.conf:1 Inc=1 on=false match=0",
		"inc.conf:3 Inc=2 on=false match=0",
		"inc.conf:5 Inc=3 on=false match=0",
		"inc.conf:1 Inc=1 on=true match=0",
		"inc.conf:3 Inc=2 on=true match=0",
		"inc.conf:5 Inc=3 on=false match=0",
		"main.conf:6 Port=22 on=true match=0",
		"main.conf:7 Match=user x on=true match=7",
		"main.conf:8 Port=1 on=true match=7",
		"main.conf:9 Include=inc.conf on=true match=7",
		"main.conf:11 User=u on=true match=0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWalkFaults(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.conf")
	write(t, loop, "Include loop.conf\n", 0o600)
	if _, err := walk(t, &Walker{Alias: "h"}, loop); err == nil || !strings.Contains(err.Error(), "loop.conf:1: Include nested too deep") {
		t.Errorf("loop: %v", err)
	}
	wide := filepath.Join(dir, "wide.conf")
	write(t, wide, "Include wide.conf wide.conf wide.conf wide.conf\n", 0o600)
	if _, err := walk(t, &Walker{Alias: "h"}, wide); err == nil {
		t.Errorf("wide loop: no error")
	}
	bad := filepath.Join(dir, "bad.conf")
	write(t, bad, "Host \"h\nPort 1\nHost \"\"\nInclude\nHost h\nX 1\n", 0o600)
	var faults []string
	w := &Walker{Alias: "h", Fault: func(err error) error {
		if !errors.As(err, new(*LineError)) {
			t.Errorf("fault %v is no LineError", err)
		}
		faults = append(faults, err.Error())
		return nil
	}}
	got, err := walk(t, w, bad)
	if err != nil || len(faults) != 3 || len(got) != 2 || got[1] != "bad.conf:6 X=1 on=true match=0" {
		t.Errorf("lines %q, faults %q, %v", got, faults, err)
	}
	if err := (&Walker{}).Walk(filepath.Join(dir, "missing"), true, nil); err != nil {
		t.Errorf("optional missing: %v", err)
	}
	if err := (&Walker{}).Walk(filepath.Join(dir, "missing"), false, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if err := (&Walker{}).Walk(os.DevNull, false, nil); err != nil {
		t.Errorf("%s: %v", os.DevNull, err)
	}
	checked := errors.New("refused")
	if err := (&Walker{Check: func(string, fs.FileInfo) error { return checked }}).Walk(bad, false, nil); !errors.Is(err, checked) {
		t.Errorf("Check: %v", err)
	}
}

func TestNamedPatterns(t *testing.T) {
	for _, tt := range []struct {
		patterns []string
		want     bool
	}{
		{[]string{"homeserver"}, true},
		{[]string{"homeserver", "home"}, true},
		{[]string{"homeserver", "!home.example.org"}, true},
		{[]string{"!homeserver"}, false}, // matches no host; nothing to name
		{[]string{"home*"}, false},
		{[]string{"home?"}, false},
		{[]string{"*"}, false},
		{[]string{"homeserver", "*.example.org"}, false},
		{[]string{"*", "!homeserver"}, false},
	} {
		if got := namedPatterns(tt.patterns); got != tt.want {
			t.Errorf("namedPatterns(%q) = %v, want %v", tt.patterns, got, tt.want)
		}
	}
}
