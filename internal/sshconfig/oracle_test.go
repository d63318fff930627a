package sshconfig

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestLexerOpenSSH is a differential test of the reader against ssh
// itself: random config files, with every spelling the lexer must know
// (quotes, backslashes, "=", tabs, comments, quoted keywords) in Host and
// User lines, each read by ssh -G and by a Walker. ssh prints the User it
// would use, or fails on a line it cannot parse; the Walker must give the
// same user, or fail too.
func TestLexerOpenSSH(t *testing.T) {
	ssh := needSSH(t)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 2026))
	dir := t.TempDir()
	const configs = 400
	agreeOK, agreeFail := 0, 0
	for i := range configs {
		text := genConfig(rng)
		alias := []string{"a", "b", "ab", "ba"}[rng.IntN(4)]
		path := filepath.Join(dir, fmt.Sprintf("config%d", i))
		write(t, path, text, 0o600)
		out, err := exec.Command(ssh, "-G", "-F", path, alias).Output()
		sshUser, sshOK := "", err == nil
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "user "); ok {
				sshUser = v
			}
		}
		got, gotErr := modelUser(path, alias)
		if got == "" && gotErr == nil {
			got = me.Username
		}
		switch {
		case sshOK && gotErr != nil:
			t.Errorf("config %d, alias %s:\n%s\nssh -G: user %q; Walker: %v", i, alias, text, sshUser, gotErr)
		case !sshOK && gotErr == nil:
			t.Errorf("config %d, alias %s:\n%s\nssh -G fails; Walker: user %q", i, alias, text, got)
		case sshOK && got != sshUser:
			t.Errorf("config %d, alias %s:\n%s\nssh -G: user %q; Walker: user %q", i, alias, text, sshUser, got)
		case sshOK:
			agreeOK++
		default:
			agreeFail++
		}
	}
	t.Logf("%d configs: ssh and the Walker agree on %d users and %d failures", configs, agreeOK, agreeFail)
	if agreeOK < configs/4 || agreeFail < configs/10 {
		t.Errorf("the generator is off: %d users, %d failures of %d", agreeOK, agreeFail, configs)
	}
}

// modelUser is the User ssh would take from path for alias, read by a
// Walker with ssh's rules for User: exactly one non-empty word, on every
// line (active or not), the first active one winning.
func modelUser(path, alias string) (string, error) {
	w := &Walker{Alias: alias}
	var u string
	set := false
	err := w.Walk(path, false, func(l Line) error {
		if !strings.EqualFold(l.Key, "user") {
			return fmt.Errorf("%s: unexpected keyword %q", l.Where(), l.Key)
		}
		words, err := Words(l.Value)
		if err != nil {
			return err
		}
		if len(words) != 1 || words[0] == "" {
			return fmt.Errorf("%s: %d words", l.Where(), len(words))
		}
		if l.Active && !set {
			u, set = words[0], true
		}
		return nil
	})
	return u, err
}

// genConfig returns a few Host blocks with User lines, written in the
// spellings ssh accepts, and some it refuses.
func genConfig(rng *rand.Rand) string {
	var b bytes.Buffer
	if rng.IntN(3) == 0 {
		fmt.Fprintf(&b, "%s\n", genLine(rng, "User", genValue(rng)))
	}
	for range 1 + rng.IntN(3) {
		var pats []string
		for range 1 + rng.IntN(3) {
			pats = append(pats, genPattern(rng))
		}
		fmt.Fprintf(&b, "%s\n", genLine(rng, "Host", strings.Join(pats, []string{" ", "\t", "  "}[rng.IntN(3)])))
		for range rng.IntN(3) {
			fmt.Fprintf(&b, "%s\n", genLine(rng, "User", genValue(rng)))
		}
		if rng.IntN(4) == 0 {
			b.WriteString([]string{"\n", "# a comment\n", "   \n", "\t# User x\n"}[rng.IntN(4)])
		}
	}
	return b.String()
}

// genLine writes keyword and its value with one of ssh's separators.
func genLine(rng *rand.Rand, keyword, value string) string {
	kw := []string{keyword, strings.ToLower(keyword), strings.ToUpper(keyword), `"` + keyword + `"`}[rng.IntN(4)]
	sep := []string{" ", "\t", "=", " = ", "  =", "= ", " "}[rng.IntN(7)]
	lead := []string{"", "", "    ", "\t"}[rng.IntN(4)]
	trail := []string{"", "", " ", "\t", " # trailing comment", "\r"}[rng.IntN(6)]
	return lead + kw + sep + value + trail
}

func genPattern(rng *rand.Rand) string {
	var p strings.Builder
	if rng.IntN(5) == 0 {
		p.WriteByte('!')
	}
	for range 1 + rng.IntN(3) {
		p.WriteString([]string{"a", "b", "*", "?", "a"}[rng.IntN(5)])
	}
	switch rng.IntN(8) {
	case 0:
		return `"` + p.String() + `"`
	case 1:
		return `'` + p.String() + `'`
	case 2:
		return `""` // an empty pattern: ssh refuses it
	}
	return p.String()
}

// genValue returns a User value: words, quoted stretches, escapes.
func genValue(rng *rand.Rand) string {
	parts := []string{"u", "v1", "u", "v1", `"x y"`, `'x y'`, `x\ y`, `"x\"y"`, `'x\'y'`, `x\\y`, `x\y`, `"`, `''`, `#c`, `x#y`, "x=y", " ", `"a'b"`}
	var v strings.Builder
	for range 1 + rng.IntN(2) {
		v.WriteString(parts[rng.IntN(len(parts))])
	}
	return v.String()
}
