package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	for v, want := range map[string]string{
		"v1.2.3":             "1.2.3",
		"v1.2.3-rc1":         "1.2.3~rc1",
		"v1.2.3-4-gabcdef0":  "1.2.3+4.gabcdef0",
		"abcdef0":            "0.0.0~git.abcdef0",
		"abcdef0-dirty":      "0.0.0~git.abcdef0.dirty",
		"vtest":              "0.0.0~git.vtest",
		"v1.2.3-dirty":       "1.2.3+dirty",
		"v1.2.3-rc1-2-gabc":  "1.2.3~rc1+2.gabc",
		"1647faa":            "0.0.0~git.1647faa",
		"v2":                 "2",
		"v1.2.3+build/ 1":    "0.0.0~git.v1.2.3.build..1",
		"":                   "0.0.0~git.",
		"release-candidate!": "0.0.0~git.release.candidate.",
	} {
		if got := debVersion(v); got != want {
			t.Errorf("debVersion(%q) = %q, want %q", v, got, want)
		}
	}
	// In dpkg's order: a release candidate, the release, commits after it.
	if _, err := exec.LookPath("dpkg"); err != nil {
		return
	}
	order := []string{"v1.2.3-rc1", "v1.2.3-rc1-2-gabc", "v1.2.3", "v1.2.3-4-gabcdef0", "v1.2.4"}
	for i := 1; i < len(order); i++ {
		a, b := debVersion(order[i-1]), debVersion(order[i])
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg does not sort %s before %s", a, b)
		}
	}
}

// TestArchivesReproducible: the archives depend on the files' contents
// and the given time only, not on the files' own times or the order given.
func TestArchivesReproducible(t *testing.T) {
	dir := t.TempDir()
	var es []entry
	for i, name := range []string{"b/two", "a/one", "c"} {
		p := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, time.Now(), time.Unix(int64(1e9+i), 0)); err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{name: "x/" + name, src: p, mode: 0o644})
	}
	mtime := time.Unix(1700000000, 0).UTC()
	for _, write := range []func(string, []entry, time.Time) error{writeTarGz, writeZip} {
		a, b := filepath.Join(dir, "a.out"), filepath.Join(dir, "b.out")
		if err := write(a, append([]entry(nil), es...), mtime); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{es[0].src, es[1].src} {
			if err := os.Chtimes(p, time.Now(), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if err := write(b, []entry{es[2], es[0], es[1]}, mtime); err != nil {
			t.Fatal(err)
		}
		da, _ := os.ReadFile(a)
		db, _ := os.ReadFile(b)
		if len(da) == 0 || !bytes.Equal(da, db) {
			t.Errorf("two archives of the same files differ (%d and %d bytes)", len(da), len(db))
		}
	}
}
