package sshclient

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// optionLetters are ssh's option letters (OpenSSH 9.4 and later).
const optionLetters = "1246abcefgiklmnopqstvxABCDEFGIJKLMNOPQRSTVwWXYy"

// TestReadmeOptions keeps the README's list of the options --native
// supports the one the code has: every letter of ssh's but those in
// nativeUnsupported, and -a and -x, accepted as no-ops (nothing is
// forwarded anyway), which the README names apart.
func TestReadmeOptions(t *testing.T) {
	var want []string
	for _, c := range []byte(optionLetters) {
		if _, no := nativeUnsupported[c]; !no && c != 'a' && c != 'x' {
			want = append(want, "-"+string(c))
		}
	}
	for _, c := range []byte(optionLetters) {
		if err := (&nativeArgs{}).options([]string{"-" + string(c), "8080:localhost:80"}); err != nil && slices.Contains(want, "-"+string(c)) {
			t.Errorf("-%c: %v", c, err)
		}
	}
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("\\*\\*Options\\.\\*\\* `([^`]*)`").FindSubmatch(data)
	if m == nil {
		t.Fatal("README.md: no **Options.** line")
	}
	got := strings.Fields(string(m[1]))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("README.md lists %q, the code supports %q", got, want)
	}
	if !strings.Contains(string(data), "`-a` and `-x` are\naccepted") {
		t.Error("README.md does not say -a and -x are accepted")
	}
}
