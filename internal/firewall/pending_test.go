package firewall

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// pendingOf plans and applies an install of spec1234 on baseSave with a
// fake runner whose tables then are installedSave, and returns its
// Pending.
func pendingOf(t *testing.T) (*Pending, *fakeRunner) {
	t.Helper()
	f := &fakeRunner{save: baseSave}
	in := &Installer{Spec: spec1234, Families: []int{4}, Runner: f}
	cs, err := in.Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	f.onRestore = func(string) error { f.save = installedSave; return nil }
	if err := in.Apply(context.Background(), cs, false); err != nil {
		t.Fatal(err)
	}
	p := in.NewPending(cs)
	if err := p.Count(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	p.Deadline = time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	return p, f
}

// TestPendingRoundTrip: a Pending's file reads back as the same Pending,
// the tables before included, and it reverts the install; the counters
// tell a knocked connection.
func TestPendingRoundTrip(t *testing.T) {
	p, f := pendingOf(t)
	p.Deadline = time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	p.PID = 4242
	p.PersistArgv, p.PersistConfig = []string{"/usr/bin/knockssh", "--install"}, "Host x\n"
	if len(p.ID) != 32 || p.Families()[0] != 4 || len(p.Families()) != 1 {
		t.Fatalf("NewPending: id %q, families %v", p.ID, p.Families())
	}
	back, err := ParsePending(p.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !back.Deadline.Equal(p.Deadline) {
		t.Errorf("deadline %v, want %v", back.Deadline, p.Deadline)
	}
	if back.Tag != p.Tag || back.ID != p.ID || back.PID != p.PID || !reflect.DeepEqual(back.PersistArgv, p.PersistArgv) || back.PersistConfig != p.PersistConfig || !reflect.DeepEqual(back.Families(), p.Families()) {
		t.Errorf("round trip: %+v, want %+v", back, p)
	}
	for i, f := range back.families {
		g := p.families[i]
		if f.family != g.family || f.conntrack != g.conntrack || f.accepted != g.accepted || formatSave(f.before) != formatSave(g.before) {
			t.Errorf("round trip of family %d: %+v, want %+v", g.family, f, g)
		}
	}
	if string(back.Marshal()) != string(p.Marshal()) {
		t.Error("marshalling again gives another file")
	}
	if !strings.Contains(string(p.Marshal()), `"before": "*filter\n:INPUT DROP [0:0]\n`) {
		t.Errorf("the tables before are not iptables-save text:\n%s", p.Marshal())
	}

	// No packet through the accept rule yet; then one.
	if ok, err := back.Knocked(context.Background(), f); ok || err != nil {
		t.Errorf("Knocked with the counters as at install: %v, %v", ok, err)
	}
	f.save = strings.Replace(installedSave, "[0:0] -A CHECKKNOCKS_INPUT -m recent --remove", "[1:60] -A CHECKKNOCKS_INPUT -m recent --remove", 1)
	if ok, err := back.Knocked(context.Background(), f); !ok || err != nil {
		t.Errorf("Knocked after a connection came in: %v, %v", ok, err)
	}

	// The counts are relative to the install's: a family the install
	// left as it was keeps its counters.
	accepted := func(n int) string {
		return strings.Replace(installedSave, "[0:0] -A CHECKKNOCKS_INPUT -m recent --remove", fmt.Sprintf("[%d:60] -A CHECKKNOCKS_INPUT -m recent --remove", n), 1)
	}
	f.save = accepted(2)
	if err := back.Count(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if ok, err := back.Knocked(context.Background(), f); ok || err != nil {
		t.Errorf("Knocked with the counters as counted: %v, %v", ok, err)
	}
	f.save = accepted(3)
	if ok, err := back.Knocked(context.Background(), f); !ok || err != nil {
		t.Errorf("Knocked after one more packet: %v, %v", ok, err)
	}

	// Revert from the file's Pending: the listener goes, a rule added
	// meanwhile stays.
	const foreign = "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n"
	f.save = strings.Replace(installedSave, "[0:0] -A INPUT -j KNOCKS_INPUT\n", "[0:0] -A INPUT -j KNOCKS_INPUT\n"+foreign, 1)
	var tx string
	f.onRestore = func(stdin string) error {
		tx = stdin
		f.save = strings.Replace(baseSave, "COMMIT", foreign+"COMMIT", 1)
		return nil
	}
	if err := back.Revert(context.Background(), f); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if !strings.Contains(tx, "-D INPUT -j KNOCKS_INPUT\n") || !strings.Contains(tx, "-X CHECKKNOCKS_INPUT\n") || strings.Contains(tx, "dport 80") {
		t.Errorf("the revert is not the listener's part only:\n%s", tx)
	}
}

// TestParsePendingRefuses: files that are not a pending install's, with
// errors that do not quote them.
func TestParsePendingRefuses(t *testing.T) {
	p, _ := pendingOf(t)
	good := string(p.Marshal())
	for _, tt := range []struct{ name, data, err string }{
		{"empty", "", "empty"},
		{"not json", "*filter\nCOMMIT\n", "bad JSON at byte 1"},
		{"two", good + good, "more after the JSON"},
		{"unknown field", strings.Replace(good, `"pid"`, `"hitcount": 1, "pid"`, 1), "a field this version of knockssh does not know"},
		{"type", strings.Replace(good, `"pid": 0`, `"pid": "--hitcount 7"`, 1), `field "pid" is not a int`},
		{"no deadline", strings.Replace(good, `"2026-12-04T20:00:00Z"`, `"0001-01-01T00:00:00Z"`, 1), "no deadline, want the time the reverter reverts"},
		{"pid", strings.Replace(good, `"pid": 0`, `"pid": -1`, 1), "want the reverter's process id"},
		{"persist", strings.Replace(good, `"pid": 0`, `"pid": 0, "persist_argv": ["/usr/bin/knockssh"]`, 1), "want both or neither"},
		{"no families", good[:strings.Index(good, `"families"`)] + `"families": []}`, "no families"},
		{"rule", strings.Replace(good, `-A INPUT -i lo -j ACCEPT`, `-I CHECKKNOCKS_INPUT -m recent --hitcount 7`, 1), `"before" line 5: not a rule (-A CHAIN ...), want iptables-save's output`},
		{"version", strings.Replace(good, `"version": 1`, `"version": 2`, 1), "version 2, want 1"},
		{"id", strings.Replace(good, p.ID, "xyz", 1), "32 hex digits"},
		{"tag", strings.Replace(good, `"tag": ""`, `"tag": "a b"`, 1), "is not a letter"},
		{"family", strings.Replace(good, `"family": 4`, `"family": 5`, 1), "want 4 or 6"},
		{"before", strings.Replace(good, `COMMIT\n`, ``, 1), "no COMMIT"},
		{"table", strings.Replace(good, `*filter`, `*raw`, 1), "none a listener uses"},
	} {
		_, err := ParsePending([]byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		} else if strings.Contains(err.Error(), "hitcount") {
			t.Errorf("%s: the error quotes the file: %v", tt.name, err)
		}
	}
}

// TestPendingFileTrust: WritePending makes a 0600 file in the 0700 run
// directory; ReadPending reads it back and refuses one others may read, a
// symbolic link, and a run directory others may enter; a missing file is
// fs.ErrNotExist.
func TestPendingFileTrust(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := MakeRunDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("run directory: %v, %v", fi.Mode(), err)
	}
	path := PendingFile(dir, "")
	if filepath.Base(path) != "pending-INPUT" || filepath.Base(PendingFile(dir, "WAN")) != "pending-WAN" {
		t.Errorf("PendingFile: %s", path)
	}
	if _, err := ReadPending(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadPending of no file: %v", err)
	}
	p, _ := pendingOf(t)
	if err := WritePending(path, p); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pending file: %v, %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the run directory holds %d entries, want the pending file only", len(entries))
	}
	back, err := ReadPending(path)
	if err != nil || back.ID != p.ID {
		t.Fatalf("ReadPending: %v", err)
	}

	os.Chmod(path, 0o640)
	if _, err := ReadPending(path); err == nil || !strings.Contains(err.Error(), "has mode 0640: others may get at it") {
		t.Errorf("ReadPending of a 0640 file: %v", err)
	}
	os.Chmod(path, 0o600)
	link := PendingFile(dir, "L")
	os.Symlink(path, link)
	if _, err := ReadPending(link); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadPending of a symbolic link: %v", err)
	}
	os.Chmod(dir, 0o755)
	if err := MakeRunDir(dir); err == nil || !strings.Contains(err.Error(), "has mode 0755") {
		t.Errorf("MakeRunDir of a 0755 directory: %v", err)
	}
	if os.Geteuid() == 0 {
		os.Chmod(dir, 0o700)
		os.Chown(path, 1, 1)
		if _, err := ReadPending(path); err == nil || !strings.Contains(err.Error(), "belongs to uid 1, not to uid 0 (root)") {
			t.Errorf("ReadPending of another user's file: %v", err)
		}
	}
}

// FuzzParsePending: what ParsePending accepts marshals to a file it reads
// back as the same.
func FuzzParsePending(f *testing.F) {
	f.Add([]byte(`{"version":1,"tag":"WAN","id":"00112233445566778899aabbccddeeff","deadline":"2026-12-03T20:00:00Z","pid":1,"families":[{"family":4,"conntrack":true,"accepted":3,"before":"*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"}]}`))
	f.Add([]byte(`{"version":1,"tag":"","id":"00112233445566778899aabbccddeeff","deadline":"2026-12-03T20:00:00Z","pid":0,"persist_argv":["/usr/bin/knockssh","--install"],"persist_config":"Host x\n","families":[{"family":6,"conntrack":false,"accepted":0,"before":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePending(data)
		if err != nil {
			if strings.Contains(err.Error(), "hitcount") && !strings.Contains(err.Error(), "field") {
				t.Fatalf("the error quotes the file: %v", err)
			}
			return
		}
		out := p.Marshal()
		q, err := ParsePending(out)
		if err != nil {
			t.Fatalf("reading back %q: %v", out, err)
		}
		if string(q.Marshal()) != string(out) {
			t.Fatalf("marshalled again:\n%s\nfirst:\n%s", q.Marshal(), out)
		}
	})
}
