package sshconfig

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestMatchHost(t *testing.T) {
	for _, tt := range []struct {
		patterns string
		alias    string
		want     bool
	}{
		{"homeserver", "homeserver", true},
		{"homeserver", "homeserver2", false},
		{"homeserver", "Homeserver", false}, // case-sensitive, as ssh
		{"*", "anything", true},
		{"*", "", true},
		{"*.example.org", "a.example.org", true},
		{"*.example.org", "example.org", false},
		{"*.example.org", "a.b.example.org", true},
		{"server?", "server1", true},
		{"server?", "server", false}, // exactly one character
		{"server?", "server12", false},
		{"?", "", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a*b", "abab", true},
		{"*a*a", "aaaXa", true},
		{"**", "x", true},
		{"a.b", "aXb", false}, // "." is no wildcard
		{"[ab]", "a", false},  // nor are brackets
		{"[ab]", "[ab]", true},
		{"alpha beta", "beta", true},
		{"alpha\tbeta", "beta", true},
		{"!gw.example.org *.example.org", "gw.example.org", false}, // a negated match cancels the line
		{"*.example.org !gw.example.org", "gw.example.org", false}, // wherever it stands
		{"*.example.org !gw.example.org", "web.example.org", true},
		{"!gw.example.org", "web.example.org", false}, // a negated pattern alone matches nothing
		{"!gw.example.org", "gw.example.org", false},
		{"!*.internal.* *", "db.internal.lan", false},
		{"!*.internal.* *", "db.lan", true},
		{`"home server"`, "home server", true},
		{"", "homeserver", false},
	} {
		args, err := Words(tt.patterns)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := hostLine(args, tt.alias); got != tt.want {
			t.Errorf("Host %s, alias %q: match %v, want %v", tt.patterns, tt.alias, got, tt.want)
		}
	}
}

// TestMatchHostOpenSSH checks hostMatches against ssh itself, when
// it is installed: ssh -G prints the configuration it would use.
func TestMatchHostOpenSSH(t *testing.T) {
	ssh := needSSH(t)
	dir := t.TempDir()
	for _, tt := range []struct{ patterns, alias string }{
		{"server?", "server"}, {"server?", "server1"}, {"server?", "server12"},
		{"MixedCase", "mixedcase"}, {"MixedCase", "MixedCase"},
		{"a*b*c", "aXXbYYc"}, {"*a*a", "aaaXa"}, {"a.b", "aXb"},
		{"alpha\tbeta", "beta"},
		{"!gw.example.org *.example.org", "gw.example.org"},
		{"*.example.org !gw.example.org", "gw.example.org"},
		{"*.example.org !gw.example.org", "web.example.org"},
		{"!gw.example.org", "web.example.org"},
		{"!*.internal.* *", "db.internal.lan"}, {"!*.internal.* *", "db.lan"},
	} {
		path := filepath.Join(dir, "config")
		write(t, path, "Host "+tt.patterns+"\n    Port 2345\n", 0o600)
		out, err := exec.Command(ssh, "-G", "-F", path, tt.alias).Output()
		if err != nil {
			t.Fatalf("ssh -G -F %s %s: %v", path, tt.alias, err)
		}
		want := bytes.Contains(out, []byte("\nport 2345\n"))
		args, _ := Words(tt.patterns)
		if got, _ := hostLine(args, tt.alias); got != want {
			t.Errorf("Host %s, alias %q: match %v, ssh says %v", tt.patterns, tt.alias, got, want)
		}
	}
}
