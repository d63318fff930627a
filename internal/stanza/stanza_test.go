package stanza

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/knockssh/knockssh/internal/sshconfig"
)

// A vector is one testdata/stanza file: good_*.conf must give the wanted
// stanza for each alias, fail_*.conf the error. inc_*.conf files are only
// included by others.
//
// The header, comment lines at the top of the file:
//
//	# ssh: true                  read the file as an ssh config (SSH=true)
//	# also: inc_x.conf [ssh]     read inc_x.conf after the file
//	# alias: homeserver          look up homeserver; the lines after it say
//	# want: port=443 found=true  the fields wanted (see describe)
//	# error: file.conf:4: ...    a substring of the error wanted
//	# warn: file.conf:4: ...     a substring of a warning wanted, one a line;
//	                             no other warning may come
//	# secret: 12a4               must not be in the error or the warnings
type vector struct {
	ssh   bool
	also  []File
	cases []*vectorCase
}

type vectorCase struct {
	alias, want, err string
	warn, secrets    []string
}

func readVector(t *testing.T, path string) vector {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		line, ok := strings.CutPrefix(s.Text(), "#")
		if !ok {
			break
		}
		key, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
		var c *vectorCase
		if len(v.cases) > 0 {
			c = v.cases[len(v.cases)-1]
		}
		switch {
		case !ok:
		case key == "ssh":
			v.ssh = value == "true"
		case key == "also":
			f := strings.Fields(value)
			v.also = append(v.also, File{Path: filepath.Join(filepath.Dir(path), f[0]), SSH: slices.Contains(f[1:], "ssh")})
		case key == "alias":
			v.cases = append(v.cases, &vectorCase{alias: value})
		case c == nil:
		case key == "want":
			c.want = value
		case key == "error":
			c.err = value
		case key == "warn":
			c.warn = append(c.warn, value)
		case key == "secret":
			c.secrets = append(c.secrets, value)
		}
	}
	if len(v.cases) == 0 {
		t.Fatalf("%s: no '# alias:' line", path)
	}
	return v
}

// describe gives the fields of a Lookup result, after knocker's defaults,
// as the want lines spell them.
func describe(st Stanza, found bool) map[string]string {
	c := st.Config.WithDefaults()
	source := ""
	if c.Source.IsValid() {
		source = c.Source.String()
	}
	family := map[string]string{"ip": "any", "ip4": "inet", "ip6": "inet6"}[c.Network]
	return map[string]string{
		"found":     fmt.Sprint(found),
		"seq":       c.Sequence.Digits(),
		"port":      fmt.Sprint(c.Port),
		"window":    c.Window.String(),
		"protocol":  c.Protocol.String(),
		"margin":    c.Margin.String(),
		"retries":   fmt.Sprint(c.Retries),
		"address":   st.Address,
		"source":    source,
		"interface": c.Interface,
		"family":    family,
		"early":     map[bool]string{false: "yes", true: "no"}[st.LateBanner],
	}
}

// copyTestdata copies testdata/stanza to dir, each file mode 0600 (git does
// not keep modes, and Lookup refuses a knock config others may write).
func copyTestdata(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("testdata/stanza")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata/stanza", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, e.Name()), string(data), 0o600)
	}
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// setHome makes dir the home directory, for ~ and for ssh configs'
// relative Include paths.
func setHome(t testing.TB, dir string) {
	t.Setenv("HOME", dir)
	t.Setenv("USERPROFILE", dir) // windows
}

func TestStanzaVectors(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".ssh")
	copyTestdata(t, dir)
	setHome(t, home)
	names, err := filepath.Glob("testdata/stanza/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	var good, fail int
	for _, name := range names {
		base := filepath.Base(name)
		isGood, isFail := strings.HasPrefix(base, "good_"), strings.HasPrefix(base, "fail_")
		if !isGood && !isFail {
			if !strings.HasPrefix(base, "inc_") {
				t.Errorf("%s: want a name starting with good_, fail_ or inc_", name)
			}
			continue
		}
		t.Run(strings.TrimSuffix(base, ".conf"), func(t *testing.T) {
			v := readVector(t, filepath.Join(dir, base))
			files := append([]File{{Path: filepath.Join(dir, base), SSH: v.ssh}}, v.also...)
			for _, c := range v.cases {
				var warnings []string
				st, found, err := Lookup(c.alias, files, func(s string) { warnings = append(warnings, s) })
				if isGood {
					good++
					if err != nil {
						t.Errorf("%s: Lookup: %v", c.alias, err)
						continue
					}
					if c.want == "" {
						t.Fatalf("%s: no '# want:' line", c.alias)
					}
					got := describe(st, found)
					for _, kv := range strings.Fields(c.want) {
						k, want, _ := strings.Cut(kv, "=")
						if g, ok := got[k]; !ok {
							t.Fatalf("%s: unknown field %q in want line", c.alias, k)
						} else if g != want {
							t.Errorf("%s: %s = %q, want %q", c.alias, k, g, want)
						}
					}
					if st.Alias != c.alias {
						t.Errorf("Alias = %q, want %q", st.Alias, c.alias)
					}
				} else {
					fail++
					if c.err == "" {
						t.Fatalf("%s: no '# error:' line", c.alias)
					}
					if err == nil {
						t.Errorf("%s: Lookup succeeded, want error %q", c.alias, c.err)
					} else if !strings.Contains(err.Error(), c.err) {
						t.Errorf("%s: error %q, want %q", c.alias, err, c.err)
					} else if strings.Contains(err.Error(), "\n") {
						t.Errorf("%s: error %q is not one line", c.alias, err)
					}
				}
				if len(warnings) != len(c.warn) {
					t.Errorf("%s: warnings %q, want %d: %q", c.alias, warnings, len(c.warn), c.warn)
				}
				for _, w := range c.warn {
					if !slices.ContainsFunc(warnings, func(s string) bool { return strings.Contains(s, w) }) {
						t.Errorf("%s: no warning contains %q; got %q", c.alias, w, warnings)
					}
				}
				for _, s := range c.secrets {
					if err != nil && strings.Contains(err.Error(), s) {
						t.Errorf("%s: error %q shows the secret %q", c.alias, err, s)
					}
					for _, w := range warnings {
						if strings.Contains(w, s) {
							t.Errorf("%s: warning %q shows the secret %q", c.alias, w, s)
						}
					}
				}
			}
		})
	}
	t.Logf("%d good cases, %d failing cases", good, fail)
}

// TestLookupIncludeRelative checks where a relative Include path goes: the
// including file's directory in a knock config, ~/.ssh in an ssh config.
func TestLookupIncludeRelative(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	setHome(t, home)
	// A decoy in ~/.ssh, where ssh_config.DecodeBytes would look.
	writeFile(t, filepath.Join(home, ".ssh", "sub", "port.conf"), "KnockPort 1\n", 0o600)
	writeFile(t, filepath.Join(home, ".ssh", "seq.conf"), "KnockSequence 2222\n", 0o600)

	writeFile(t, filepath.Join(root, "etc", "knock.conf"), "Host h\n  Include sub/port.conf\n  KnockSequence 3141\n", 0o600)
	writeFile(t, filepath.Join(root, "etc", "sub", "port.conf"), "Include seq.conf\nKnockPort 2000\n", 0o600)
	writeFile(t, filepath.Join(root, "etc", "sub", "seq.conf"), "KnockSequence 1111\n", 0o600)
	st, found, err := Lookup("h", []File{{Path: filepath.Join(root, "etc", "knock.conf")}}, nil)
	if err != nil || !found || st.Config.Port != 2000 || st.Config.Sequence.Digits() != "1111" {
		t.Errorf("knock config: port %d, sequence %s, found %v, %v; want port 2000 and the sequence of etc/sub/seq.conf", st.Config.Port, st.Config.Sequence.Digits(), found, err)
	}
	// Where names the KnockSequence line that applies, in the file that
	// holds it.
	if want := filepath.Join(root, "etc", "sub", "seq.conf") + ":1"; st.Where != want {
		t.Errorf("knock config: Where %q, want %q", st.Where, want)
	}

	writeFile(t, filepath.Join(root, "etc", "ssh.conf"), "Host h\n  Include seq.conf\n", 0o600)
	writeFile(t, filepath.Join(root, "etc", "seq.conf"), "KnockSequence 1111\n", 0o600)
	st, found, err = Lookup("h", []File{{Path: filepath.Join(root, "etc", "ssh.conf"), SSH: true}}, nil)
	if err != nil || !found || st.Config.Sequence.Digits() != "2222" {
		t.Errorf("ssh config: sequence %s, found %v, %v; want the sequence of ~/.ssh/seq.conf", st.Config.Sequence.Digits(), found, err)
	}
}

// TestLookupIncludeLoop checks that Include loops end, deep or wide.
func TestLookupIncludeLoop(t *testing.T) {
	dir := t.TempDir()
	setHome(t, dir)
	for _, ssh := range []bool{false, true} {
		for _, text := range []string{"Include DIR/a.conf\n", "Include DIR/*.conf DIR/*.conf DIR/*.conf\n"} {
			path := filepath.Join(dir, "a.conf")
			writeFile(t, path, strings.ReplaceAll(text, "DIR", dir), 0o600)
			var warnings []string
			_, _, err := Lookup("h", []File{{Path: path, SSH: ssh}}, func(s string) { warnings = append(warnings, s) })
			if ssh {
				if err != nil || len(warnings) == 0 {
					t.Errorf("ssh %q: %v, warnings %q; want no error, a warning", text, err, warnings)
				}
			} else if err == nil || !strings.Contains(err.Error(), "a.conf:1: Include nested too deep") {
				t.Errorf("knock %q: %v; want nested too deep", text, err)
			}
		}
	}
	// ssh files resolve relative paths in ~/.ssh: put the loop there.
	path := filepath.Join(dir, ".ssh", "config")
	writeFile(t, path, "Include config config\n", 0o600)
	if _, _, err := Lookup("h", []File{{Path: path, SSH: true}}, nil); err != nil {
		t.Errorf("ssh loop in ~/.ssh: %v", err)
	}
}

func TestLookupPerm(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission check on windows")
	}
	const stanza = "Host h\n  KnockSequence 3141\n"
	const (
		secret = "chmod 600 PATH"
		steers = "chmod go-w PATH"
	)
	for _, tt := range []struct {
		name    string
		ssh     bool
		text    string
		mode    os.FileMode
		include os.FileMode // mode of an included file, if not 0
		err     string
		hint    string // PATH for the file at fault
	}{
		{name: "0600", text: stanza, mode: 0o600},
		{name: "0400", text: stanza, mode: 0o400},
		{name: "0700", text: stanza, mode: 0o700},
		{name: "0640", text: stanza, mode: 0o640, err: "readable by others (mode 0640): it holds knock secrets", hint: secret},
		{name: "0644", text: stanza, mode: 0o644, err: "readable by others (mode 0644)", hint: secret},
		{name: "0604", text: stanza, mode: 0o604, err: "readable by others (mode 0604)", hint: secret},
		{name: "0664", text: stanza, mode: 0o664, err: "writable by others (mode 0664): it holds knock secrets", hint: secret},
		{name: "0666", text: stanza, mode: 0o666, err: "writable by others (mode 0666)", hint: secret},
		{name: "0620", text: stanza, mode: 0o620, err: "writable by others (mode 0620)", hint: secret},
		{name: "0602", text: stanza, mode: 0o602, err: "writable by others (mode 0602)", hint: secret},
		{name: "refused without a stanza", text: "Host other\n  KnockPort 1\n", mode: 0o666, err: "writable by others", hint: secret},
		{name: "include 0600", text: "Include inc.conf\n", mode: 0o600, include: 0o600},
		{name: "include 0644", text: "Include inc.conf\n", mode: 0o600, include: 0o644, err: "inc.conf is readable by others (mode 0644)", hint: secret},
		{name: "include 0666", text: "Include inc.conf\n", mode: 0o600, include: 0o666, err: "inc.conf is writable by others (mode 0666)", hint: secret},
		{name: "ssh 0666 without Knock*", ssh: true, text: "Host h\n  User me\n", mode: 0o666},
		{name: "ssh 0666 with Knock* for another host", ssh: true, text: "Host other\n  KnockSequence 3141\n", mode: 0o666},
		{name: "ssh 0644 with KnockSequence", ssh: true, text: stanza, mode: 0o644, err: "readable by others (mode 0644): it holds knock secrets", hint: secret},
		{name: "ssh 0644 with KnockPort", ssh: true, text: "Host h\n  KnockPort 444\n", mode: 0o644},
		{name: "ssh 0664 with KnockSequence", ssh: true, text: stanza, mode: 0o664, err: "writable by others (mode 0664)", hint: secret},
		{name: "ssh 0664 with KnockAddress", ssh: true, text: "Host h\n  KnockAddress evil.example\n", mode: 0o664, err: "writable by others (mode 0664): it sets where knock secrets go", hint: steers},
		{name: "ssh include 0666", ssh: true, text: "Include " + "INC\n", mode: 0o600, include: 0o666, err: "inc.conf is writable by others (mode 0666)", hint: secret},
		{name: "ssh include 0644", ssh: true, text: "Include " + "INC\n", mode: 0o600, include: 0o644, err: "inc.conf is readable by others (mode 0644)", hint: secret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "knock_config")
			inc := filepath.Join(dir, "inc.conf")
			writeFile(t, path, strings.ReplaceAll(tt.text, "INC", inc), tt.mode)
			if tt.include != 0 {
				writeFile(t, inc, stanza, tt.include)
			}
			var warnings []string
			_, _, err := Lookup("h", []File{{Path: path, SSH: tt.ssh}}, func(s string) { warnings = append(warnings, s) })
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want %q", err, tt.err)
			}
			if tt.err != "" && err != nil {
				var pe *sshconfig.PermError
				p := strings.Fields(err.Error())[0]
				if want := strings.ReplaceAll(tt.hint, "PATH", p); !strings.HasPrefix(p, dir) || !errors.As(err, &pe) || pe.Hint() != want {
					t.Errorf("error %q: want PATH is ..., with the hint %q", err, want)
				}
			}
			if len(warnings) > 0 {
				t.Errorf("warnings %q, want none", warnings)
			}
		})
	}
}

func TestLookupFiles(t *testing.T) {
	dir := t.TempDir()
	setHome(t, dir)
	missing := filepath.Join(dir, "missing")
	for _, tt := range []struct {
		name  string
		files []File
		err   string
	}{
		{"optional missing", []File{{Path: missing, Optional: true}}, ""},
		{"optional ssh missing", []File{{Path: missing, SSH: true, Optional: true}}, ""},
		{"required missing", []File{{Path: missing}}, "missing"},
		{"required ssh missing (ssh -F)", []File{{Path: missing, SSH: true}}, "missing"},
		{"knock directory", []File{{Path: dir}}, "not a regular file"},
		{"ssh directory", []File{{Path: dir, SSH: true}}, ""},
		{"none", nil, ""},
	} {
		_, found, err := Lookup("h", tt.files, nil)
		if found || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: found %v, error %v; want error %q", tt.name, found, err, tt.err)
		}
	}
}

func TestDefaultFiles(t *testing.T) {
	home := t.TempDir()
	etc := []File{{Path: "/etc/ssh/knock_config", Optional: true}}
	if runtime.GOOS == "windows" {
		etc = nil
	}
	knock := File{Path: filepath.Join(home, ".ssh", "knock_config"), Optional: true}
	for _, tt := range []struct {
		name      string
		home      string
		sshConfig string
		want      []File
	}{
		{"default", home, "", append([]File{knock, {Path: filepath.Join(home, ".ssh", "config"), SSH: true, Optional: true}}, etc...)},
		{"ssh -F", home, "my_config", append([]File{knock, {Path: "my_config", SSH: true}}, etc...)},
		{"ssh -F none", home, "none", append([]File{knock}, etc...)},
		{"no home", "", "", etc},
		{"no home, ssh -F", "", "/x/config", append([]File{{Path: "/x/config", SSH: true}}, etc...)},
	} {
		setHome(t, tt.home)
		if got := DefaultFiles(tt.sshConfig); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: DefaultFiles(%q) = %+v, want %+v", tt.name, tt.sshConfig, got, tt.want)
		}
	}
}

// FuzzLookup reads the fuzz input as a knock config and as an ssh config,
// with a KnockSequence line holding secret written into it. Lookup must
// not panic, must not fail on an ssh config but for permissions or a
// wildcard stanza without KnockAddress, and must
// never show secret (when it has 4 characters or more) in an error or a
// warning.
func FuzzLookup(f *testing.F) {
	home := f.TempDir()
	f.Setenv("HOME", home)
	f.Setenv("USERPROFILE", home)
	names, _ := filepath.Glob("testdata/stanza/*.conf")
	for i, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), []string{"3141", "12a4", "3-1-4-1", "9 9 9 9", "31410"}[i%5], uint8(i), uint8(i))
	}
	path := filepath.Join(f.TempDir(), "knock_config") // one a fuzzing process, which runs inputs one by one
	f.Fuzz(func(t *testing.T, data, secret string, where, form uint8) {
		// The secret, and one of the same shape: what Lookup says of
		// secret, and not of other, it took from the secret's line.
		other, ok := otherSecret(secret, form)
		if !ok || strings.Contains(data, secret) {
			secret = ""
		}
		for _, ssh := range []bool{false, true} {
			run := func(secret string) []string {
				text := data
				if secret != "" {
					text = insertLine(data, int(where), []string{
						"KnockSequence %s", "\tknocksequence=%s", `  KnockSequence "%s"`, "KnockSequence%s", "%s",
					}[form%5], secret)
				}
				writeFile(t, path, text, 0o600)
				var msgs []string
				_, _, err := Lookup("homeserver", []File{{Path: path, SSH: ssh}}, func(s string) { msgs = append(msgs, s) })
				if err != nil {
					if ssh && !strings.Contains(err.Error(), "is writable by others") && !errors.As(err, new(*WildcardError)) {
						t.Fatalf("ssh config: %v", err)
					}
					msgs = append(msgs, err.Error())
				}
				return msgs
			}
			msgs := run(secret)
			if secret == "" {
				continue
			}
			count := func(msgs []string, s string) (n int) {
				for _, m := range msgs {
					n += strings.Count(m, s)
				}
				return n
			}
			if n := count(msgs, secret); n > 0 && n > count(run(other), secret) {
				t.Fatalf("ssh %v: the secret %q shows in %q", ssh, secret, msgs)
			}
		}
	})
}

// otherSecret returns a string of the same shape as s: each digit 1-9 and
// each letter changed, the rest kept. ok is false when s is not a secret to
// test: shorter than 4, with surrounding spaces, characters other than
// letters, digits, spaces, dashes and commas, or, for form 4 (the secret
// alone on a line), no digit.
func otherSecret(s string, form uint8) (other string, ok bool) {
	if len(s) < 4 || s != strings.TrimSpace(s) || (form%5 == 4 && !strings.ContainsAny(s, "0123456789")) {
		return "", false
	}
	b := []byte(s)
	changed := false
	for i, c := range b {
		switch {
		case c >= '1' && c <= '9':
			b[i] = '1' + (c-'1'+1)%9
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+1)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+1)%26
		case c == '0' || c == ' ' || c == '-' || c == ',':
			continue
		default:
			return "", false
		}
		changed = true
	}
	return string(b), changed
}

// insertLine inserts fmt.Sprintf(format, secret) as a line of data, before
// line where (modulo the number of lines).
func insertLine(data string, where int, format, secret string) string {
	lines := strings.Split(data, "\n")
	where %= len(lines) + 1
	lines = slices.Insert(lines, where, fmt.Sprintf(format, secret))
	return strings.Join(lines, "\n")
}
