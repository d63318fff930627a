package sshconfig

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSplitLine(t *testing.T) {
	for _, tt := range []struct {
		line, key, rest string
		ok              bool // SplitLine's: a value is there
	}{
		{"Host a b", "Host", "a b", true},
		{"  Host=a", "Host", "a", true},
		{"\tHost = a  ", "Host", "a", true},
		{"Host  =  a", "Host", "a", true},
		{"Host==a", "Host", "=a", true},
		{"Include\r", "Include", "", false},
		{"\r Match all", "Match", "all", true},
		{"=x", "x", "", false},
		{"= Port 22", "Port", "22", true},
		{"Foo#bar baz", "Foo#bar", "baz", true},
		{`"ProxyCommand" x`, "ProxyCommand", "x", true},
		{`"Proxy Command" x`, "Proxy Command", "x", true},
		{"Port 22\f", "Port", "22", true},
		{"Port\t\t22 # c", "Port", "22 # c", true},
	} {
		key, rest, ok := SplitLine(tt.line)
		if ok != tt.ok || ok && (key != tt.key || rest != tt.rest) {
			t.Errorf("SplitLine(%q) = %q, %q, %v; want %q, %q, %v", tt.line, key, rest, ok, tt.key, tt.rest, tt.ok)
		}
		key, rest, ok = splitKeyword(tt.line)
		if !ok || key != tt.key || rest != tt.rest {
			t.Errorf("splitKeyword(%q) = %q, %q, %v; want %q, %q", tt.line, key, rest, ok, tt.key, tt.rest)
		}
	}
	for _, line := range []string{"", "  ", "# Host a", "  \t# x", "\r", "=", `"Host a`} {
		if key, _, ok := splitKeyword(line); ok {
			t.Errorf("splitKeyword(%q) found the keyword %q", line, key)
		}
	}
}

func TestWords(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`a b`, []string{"a", "b"}, false},
		{"a\tb  ", []string{"a", "b"}, false},
		{`"a b" c`, []string{"a b", "c"}, false},
		{`'a b'`, []string{"a b"}, false},
		{`a\ b`, []string{"a b"}, false},
		{`"a\ b"`, []string{`a\ b`}, false}, // inside quotes a backslash escapes no space
		{`"a\"b"`, []string{`a"b`}, false},
		{`'a\'b'`, []string{`a'b`}, false},
		{`a\\b`, []string{`a\b`}, false},
		{`C:\Users\me`, []string{`C:\Users\me`}, false},
		{`a"b c"d`, []string{"ab cd"}, false},
		{`a #b c`, []string{"a"}, false},
		{`a#b`, []string{"a#b"}, false},
		{`"#a"`, []string{"#a"}, false},
		{`""`, []string{""}, false},
		{``, nil, false},
		{`"a b`, nil, true},
		{`a 'b`, nil, true},
	} {
		got, err := Words(tt.in)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("Words(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestPort(t *testing.T) {
	for in, want := range map[string]int{
		"22": 22, " +022": 22, "0": 0, "65535": 65535, "65536": -1, "-1": -1, "-0": 0,
		"ssh": 22, "": -1, "2x": -1, "nosuchservice": -1,
	} {
		if got := Port(in); got != want {
			t.Errorf("Port(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestTime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "1m": time.Minute, "1h30m": 90 * time.Minute, "2W": 14 * 24 * time.Hour,
		"1d1s": 24*time.Hour + time.Second, "2S": 2 * time.Second, "3550w443647s": 2147483647 * time.Second,
	} {
		if got, err := Time(in); err != nil || got != want {
			t.Errorf("Time(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "x", "1x", "-1", "1.5", "3550w443648s", "1234567890", "999999999w", "999999999d", "3551w", "3550w443647s1s"} {
		if got, err := Time(in); err == nil {
			t.Errorf("Time(%q) = %v, want an error", in, got)
		}
	}
}

// FuzzWords checks Words against a quoting of its own output: the words,
// quoted back, split into the same words.
func FuzzWords(f *testing.F) {
	for _, s := range []string{`a b`, `"a b" c`, `a\ b`, `'a\'b'`, `C:\x`, `a #b`, `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := Words(s)
		if err != nil {
			if err != ErrQuote {
				t.Fatalf("Words(%q): %v", s, err)
			}
			return
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, `"`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w)+`"`)
		}
		again, err := Words(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("Words(%q) = %q; quoted back %q it gives %q, %v", s, words, quoted, again, err)
		}
	})
}

// FuzzSplitLine checks that SplitLine never panics and that a line that
// sets something keeps its keyword and value within the line.
func FuzzSplitLine(f *testing.F) {
	for _, s := range []string{"Host a", "  Port=22", `"Host" x`, "=x", "# c", "a = = b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		key, rest, ok := SplitLine(line)
		if !ok {
			return
		}
		if key == "" || rest == "" || !strings.HasSuffix(strings.TrimRight(line, space+"\f"), rest) {
			t.Fatalf("SplitLine(%q) = %q, %q", line, key, rest)
		}
	})
}
