package sshclient

import "testing"

// TestDefaultAgent: $SSH_AUTH_SOCK wins; on Windows, without it, Win32-
// OpenSSH's agent pipe; elsewhere none.
func TestDefaultAgent(t *testing.T) {
	for _, c := range []struct{ goos, sock, want string }{
		{"linux", "/tmp/ssh-x/agent.1", "/tmp/ssh-x/agent.1"},
		{"linux", "", ""},
		{"darwin", "", ""},
		{"windows", "", `\\.\pipe\openssh-ssh-agent`},
		{"windows", `\\.\pipe\pageant.me.1234`, `\\.\pipe\pageant.me.1234`},
		{"windows", `C:\Users\me\agent.sock`, `C:\Users\me\agent.sock`},
	} {
		if got := defaultAgent(c.goos, c.sock); got != c.want {
			t.Errorf("defaultAgent(%s, %q) = %q, want %q", c.goos, c.sock, got, c.want)
		}
	}
}

// TestPipePath: which agent names are named pipes, in either spelling.
func TestPipePath(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`\\.\pipe\openssh-ssh-agent`, `\\.\pipe\openssh-ssh-agent`, true},
		{`//./pipe/openssh-ssh-agent`, `\\.\pipe\openssh-ssh-agent`, true},
		{`\\.\PIPE\Other`, `\\.\PIPE\Other`, true},
		{`\\.\pipe\`, "", false},
		{`\.\pipe\openssh-ssh-agent`, "", false}, // one backslash lost to ssh_config's unescaping
		{`\\server\pipe\agent`, "", false},
		{`/tmp/ssh-x/agent.1`, "", false},
		{`C:\Users\me\agent.sock`, "", false},
		{"", "", false},
	} {
		got, ok := pipePath(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("pipePath(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestChooseTerm: the environment's TERM wins; a console with VT output
// speaks xterm-256color (as Win32-OpenSSH assumes); else vt100.
func TestChooseTerm(t *testing.T) {
	for _, c := range []struct {
		env  string
		vt   bool
		want string
	}{
		{"screen-256color", false, "screen-256color"},
		{"xterm", true, "xterm"},
		{"", true, "xterm-256color"},
		{"", false, "vt100"},
	} {
		if got := chooseTerm(c.env, c.vt); got != c.want {
			t.Errorf("chooseTerm(%q, %v) = %q, want %q", c.env, c.vt, got, c.want)
		}
	}
}
