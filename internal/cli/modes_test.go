package cli

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestModeTable: every mode's options are in optionTable, once; every
// option is some mode's; the modes come in the order users meet them.
func TestModeTable(t *testing.T) {
	var names []string
	used := map[string]bool{}
	for _, m := range modes {
		names = append(names, m.name)
		if (m.run == nil) == (m.raw == nil) && m.name != "" {
			t.Errorf("mode %q: want exactly one of run and raw", m.name)
		}
		seen := map[string]bool{}
		for _, f := range m.flags {
			if seen[f] {
				t.Errorf("mode %q lists %s twice", m.name, f)
			}
			seen[f], used[f] = true, true
			found := false
			for _, o := range optionTable {
				found = found || o.name == f
			}
			if !found {
				t.Errorf("mode %q takes %s, which optionTable lacks", m.name, f)
			}
		}
	}
	want := []string{"", "proxy", "has-stanza", "native", "knock", "check", "init", "new-sequence", "rules", "install", "uninstall", "confirm", "revert", "server-status", "watch", "interfaces", "version"}
	if !slices.Equal(names, want) {
		t.Errorf("modes in the order %q, want %q", names, want)
	}
	for _, o := range optionTable {
		if !used[o.name] {
			t.Errorf("option %s belongs to no mode", o.name)
		}
	}
	// --help and the manual show the modes in the table's order.
	u, man := usageText(), manPage()
	last, lastMan := -1, -1
	for _, m := range modes[1:] {
		i := strings.Index(u, "      --"+m.name+" ")
		if j := strings.Index(man, ".TP\n\\fBknockssh \\-\\-"+roff(m.name)); j <= lastMan {
			t.Errorf("knockssh(1): --%s not after the mode before it", m.name)
		} else {
			lastMan = j
		}
		if i <= last {
			t.Errorf("usage: --%s not after the mode before it", m.name)
		}
		last = i
	}
}

// TestNativeOptionsReadme: --native's usage lists the options the README
// does, which sshclient's TestReadmeOptions checks against the client.
func TestNativeOptionsReadme(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("\\*\\*Options\\.\\*\\* `([^`]*)`").FindSubmatch(data)
	if m == nil {
		t.Fatal("README.md: no **Options.** line")
	}
	if got := string(m[1]); got != nativeOptions {
		t.Errorf("README.md lists %q, --native's usage %q", got, nativeOptions)
	}
	if !strings.Contains(modeUsage(modeByName("native")), nativeOptions) {
		t.Error("--native's usage does not list its options")
	}
}

// TestUsageErrors: command lines knockssh refuses, each with status 2 and
// one line on stderr, nothing on stdout; and some it takes.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		stderr string // a regexp for the whole of stderr; "" for none
	}{
		{[]string{"--new-sequence", "--format", "shell", "--dnat", "--list", "foo"}, exitUsage,
			`^knockssh: --format does not go with --new-sequence \(it goes with --rules; see knockssh --new-sequence --help\)\n$`},
		{[]string{"--new-sequence", "--dnat"}, exitUsage, `^knockssh: --dnat does not go with --new-sequence \(it goes with --rules, --install, --uninstall, --confirm, --revert, --server-status, --watch; `},
		{[]string{"--rules", "--count=3"}, exitUsage, `^knockssh: --count does not go with --rules \(it goes with --watch; see knockssh --rules --help\)\n$`},
		{[]string{"--knock", "--proxy", "h"}, exitUsage, `^knockssh: --knock and --proxy exclude each other\n$`},
		{[]string{"--install", "--uninstall"}, exitUsage, `^knockssh: --install and --uninstall exclude each other\n$`},
		{[]string{"--install", "--install", "--dry-run", "--help"}, exitOK, ""},
		{[]string{"--port", "22", "host"}, exitUsage, `^knockssh: --port does not go with the ssh wrapper \(`},
		{[]string{"--interfaces", "--config", "x"}, exitUsage, `^knockssh: --config does not go with --interfaces`},
		{[]string{"--nope"}, exitUsage, `^knockssh: unknown flag: --nope \(see knockssh --help\)\n$`},
		{[]string{"--rules", "--nope"}, exitUsage, `^knockssh: unknown flag: --nope \(see knockssh --help\)\n$`},
		{[]string{"--new-sequence", "--bursts", "x"}, exitUsage, `^knockssh: invalid argument "x" for "--bursts" flag: .* \(see knockssh --new-sequence --help\)\n$`},
		{[]string{"--new-sequence", "extra"}, exitUsage, `^knockssh: --new-sequence takes no argument\n$`},
		{[]string{"--native", "--window", "3", "host"}, exitUsage, `^knockssh: --window does not go with --native \(`},
		{[]string{"-v", "--native", "host"}, exitUsage, `^knockssh: give --native first`},
		{[]string{"--native", "--help"}, exitOK, ""},
		{[]string{"--config", "kc", "--native", "--help"}, exitOK, ""},
		{[]string{"--knock", "-h"}, exitOK, ""},
		{[]string{"-h"}, exitOK, ""},
		{[]string{"--rules", "-v"}, exitUsage, `^knockssh: -v \(--verbose\) does not go with --rules \(it goes with --proxy, --knock, --server-status, --watch; see knockssh --rules --help\)\n$`},
		{[]string{"--rules", "--help"}, exitOK, ""},
		{[]string{"--help"}, exitOK, ""},
		{[]string{"--new-sequence", "--bursts=2"}, exitOK, ""},
		{[]string{}, exitUsage, `^knockssh: nothing to do: `},
	} {
		var stdout, stderr bytes.Buffer
		status := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		if status != tc.status {
			t.Errorf("%q: status %d, want %d (stderr %q)", tc.args, status, tc.status, stderr.String())
		}
		if tc.stderr == "" {
			if stderr.Len() != 0 {
				t.Errorf("%q: stderr %q, want none", tc.args, stderr.String())
			}
			continue
		}
		if !regexp.MustCompile(tc.stderr).MatchString(stderr.String()) {
			t.Errorf("%q: stderr %q, want %s", tc.args, stderr.String(), tc.stderr)
		}
		if strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: stderr has %d lines, want one", tc.args, strings.Count(stderr.String(), "\n"))
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: stdout %q, want none", tc.args, stdout.String())
		}
	}
}

// TestModeUsage: --help stays short; a mode's help lists its options and
// no other's.
func TestModeUsage(t *testing.T) {
	if n := strings.Count(usageText(), "\n"); n > 40 {
		t.Errorf("--help has %d lines, want at most 40 (the manual has the long form)", n)
	}
	u := modeUsage(modeByName("new-sequence"))
	if !strings.Contains(u, "--bursts") || strings.Contains(u, "--dnat") || strings.Contains(u, "--port") {
		t.Errorf("--new-sequence --help:\n%s", u)
	}
	u = modeUsage(modeByName("rules"))
	for _, f := range []string{"--dnat", "--format", "--family", "--tag", "--sequence"} {
		if !strings.Contains(u, f) {
			t.Errorf("--rules --help lacks %s", f)
		}
	}
	if strings.Contains(u, "--count") || strings.Contains(u, "--rules ") && strings.Contains(u, "  --rules") {
		t.Errorf("--rules --help lists another mode's option or itself:\n%s", u)
	}
}
