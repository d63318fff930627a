package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// completionFiles are the shell completions, with the command that checks
// each one's syntax.
var completionFiles = map[string][]string{
	"../../completions/knockssh.bash": {"bash", "-n"},
	"../../completions/_knockssh":     {"zsh", "-n"},
	"../../completions/knockssh.fish": {"fish", "--no-execute"},
}

// TestCompletionsOptions: every completion names exactly knockssh's modes
// and options, and parses in its shell.
func TestCompletionsOptions(t *testing.T) {
	var want []string
	for _, m := range modes[1:] {
		want = append(want, m.name)
	}
	for _, o := range optionTable {
		want = append(want, o.name)
	}
	want = append(want, "help")
	slices.Sort(want)
	for path, check := range completionFiles {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?:^|[\s('=])--([a-z][a-z0-9-]*)`)
		if strings.HasSuffix(path, ".fish") {
			re = regexp.MustCompile(`-l ([a-z][a-z0-9-]*)`)
		}
		var got []string
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			if !slices.Contains(got, m[1]) {
				got = append(got, m[1])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s names %q, knockssh has %q", path, got, want)
		}
		if _, err := exec.LookPath(check[0]); err != nil {
			if os.Getenv("CI") != "" {
				t.Errorf("no %s to check %s: apt-get install %s", check[0], path, check[0])
			}
			continue
		}
		if out, err := exec.Command(check[0], append(check[1:], path)...).CombinedOutput(); err != nil {
			t.Errorf("%s %s: %v\n%s", check[0], path, err, out)
		}
	}
}

// TestBashCompletion runs the bash completion as bash would on a tab:
// options after "--", hosts from the knock config.
func TestBashCompletion(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "knock_config"), []byte("Host homeserver other*\n    KnockSequence 1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("../../completions/knockssh.bash")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ words, want, not string }{
		{"knockssh --pro", "--proxy", "--rules"},
		{"knockssh --new-s", "--new-sequence", "--proxy"},
		{"knockssh --ch", "--check", "--knock"},
		{"knockssh home", "homeserver", "other"},
		{"knockssh me@home", "homeserver", ""},
		{"knockssh --protocol t", "tcp", "udp"},
	} {
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", `source "$1"; COMP_WORDS=($2); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _knockssh; printf '%s\n' "${COMPREPLY[@]}"`, "bash", script, tc.words)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.words, err, out)
		}
		lines := strings.Fields(string(out))
		if !slices.Contains(lines, tc.want) || tc.not != "" && slices.Contains(lines, tc.not) {
			t.Errorf("%q completes to %q, want %s and not %q", tc.words, lines, tc.want, tc.not)
		}
	}
}
