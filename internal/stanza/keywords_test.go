package stanza

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// readmeTable is the README's table of keywords, generated from keywords.
func readmeTable() string {
	var b strings.Builder
	b.WriteString("| keyword | meaning | default |\n|---|---|---|\n")
	for _, kw := range keywords {
		b.WriteString("| `" + kw.name + "` | " + kw.meaning + " | " + kw.def + " |\n")
	}
	return b.String()
}

// TestReadmeKeywords keeps the README's table of Knock* keywords the one
// the code has: keywords is the single source.
func TestReadmeKeywords(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := readmeTable(); !strings.Contains(string(data), want) {
		t.Errorf("README.md has no table of the keywords as keywords.go has them; put this one in:\n%s", want)
	}
}

// TestKeywordDefaults checks the defaults the table claims against those
// a stanza with only a KnockSequence gets.
func TestKeywordDefaults(t *testing.T) {
	st := Stanza{}
	if err := keywordNamed("knocksequence").parse(&st, "1234"); err != nil {
		t.Fatal(err)
	}
	c := st.Config.WithDefaults()
	for name, got := range map[string]string{
		"KnockPort": strconv.Itoa(c.Port), "KnockWindow": strconv.Itoa(int(c.Window.Seconds())),
		"KnockProtocol": c.Protocol.String(), "KnockMargin": c.Margin.String(),
	} {
		if kw := keywordNamed(strings.ToLower(name)); kw.def != got {
			t.Errorf("%s: the table says %q, the default is %q", name, kw.def, got)
		}
	}
}
