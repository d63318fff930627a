package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateLicenses = flag.Bool("update-licenses", false, "rewrite ../../THIRD_PARTY_LICENSES")

// thirdPartyLicenses returns the license texts of every module the knockssh
// binary links, for every platform it is built for, as go.mod and the
// module cache have them.
func thirdPartyLicenses(t *testing.T) string {
	mods := map[string]string{} // path@version -> dir
	for _, goos := range []string{"linux", "darwin", "windows", "freebsd", "openbsd", "netbsd", "android"} {
		cmd := exec.Command("go", "list", "-deps", "-json=Module", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list (GOOS=%s): %v", goos, err)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var p struct {
				Module *struct {
					Path, Version, Dir string
					Main               bool
				}
			}
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if m := p.Module; m != nil && !m.Main {
				mods[m.Path+" "+m.Version] = m.Dir
			}
		}
	}
	keys := make([]string, 0, len(mods))
	for k := range mods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("The knockssh binary includes the following modules, under these licenses.\n")
	b.WriteString("Generated from go.mod: go test ./cmd/knockssh -run TestThirdPartyLicenses -update-licenses\n")
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	golicense, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n================================================================\n")
	b.WriteString("The Go standard library and runtime LICENSE\n\n" + strings.TrimSpace(string(golicense)) + "\n")
	for _, k := range keys {
		names, _ := filepath.Glob(filepath.Join(mods[k], "LICENSE*"))
		more, _ := filepath.Glob(filepath.Join(mods[k], "PATENTS"))
		names = append(names, more...)
		if len(names) == 0 {
			t.Errorf("module %s has no LICENSE file", k)
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("\n================================================================\n")
			b.WriteString(strings.Replace(k, " ", "@", 1) + " " + filepath.Base(name) + "\n\n")
			b.WriteString(strings.TrimSpace(string(data)) + "\n")
		}
	}
	return b.String()
}

// TestThirdPartyLicenses keeps THIRD_PARTY_LICENSES, which releases ship,
// equal to the licenses of the modules go.mod makes the binary link.
func TestThirdPartyLicenses(t *testing.T) {
	want := thirdPartyLicenses(t)
	const path = "../../THIRD_PARTY_LICENSES"
	if *updateLicenses {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is not the licenses of the modules linked: go test ./cmd/knockssh -run TestThirdPartyLicenses -update-licenses", path)
	}
}
