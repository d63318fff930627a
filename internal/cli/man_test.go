package cli

import (
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite doc/knockssh.1 and doc/knock_config.5")

// TestManPages keeps the committed manual pages equal to what the tables
// give, and checks that man renders them without a warning.
func TestManPages(t *testing.T) {
	for path, page := range map[string]string{
		"../../doc/knockssh.1":     manPage(),
		"../../doc/knock_config.5": knockConfigPage(),
	} {
		if *update {
			if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != page {
			t.Errorf("%s differs from the tables: go test ./internal/cli -run TestManPages -update", path)
		}
		if _, err := exec.LookPath("groff"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("no groff to render %s: apt-get install groff-base", path)
			}
			continue
		}
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", path)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("groff %s: %v\n%s", path, err, out)
		}
	}
	// Every mode and option is in knockssh(1).
	page := manPage()
	for _, m := range modes[1:] {
		if !strings.Contains(page, `\fBknockssh \-\-`+roff(m.name)) {
			t.Errorf("knockssh(1) lacks --%s", m.name)
		}
	}
	for _, o := range optionTable {
		if !strings.Contains(page, `\fB\-\-`+roff(o.name)+`\fR`) {
			t.Errorf("knockssh(1) lacks --%s", o.name)
		}
	}
}
