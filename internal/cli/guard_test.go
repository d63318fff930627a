package cli

import (
	"errors"
	"testing"
)

// TestParseStat: the command name is what the outermost parentheses hold,
// whatever it is; the parent is the field after the state.
func TestParseStat(t *testing.T) {
	for _, tt := range []struct {
		line, comm string
		ppid       int
		ok         bool
	}{
		{"4242 (sudo) S 4200 4242 4200 34816", "sudo", 4200, true},
		{"17 (a) b) (c) R 1 17", "a) b) (c", 1, true},
		{"9 (sshd-session) S 812 9", "sshd-session", 812, true},
		{"9 sshd S 812", "", 0, false},
		{"9 (sshd) S", "", 0, false},
		{"9 (sshd) S x", "", 0, false},
	} {
		comm, ppid, err := parseStat(tt.line)
		if (err == nil) != tt.ok || comm != tt.comm || ppid != tt.ppid {
			t.Errorf("parseStat(%q) = %q, %d, %v", tt.line, comm, ppid, err)
		}
	}
}

// TestSSHDAncestor: sudo under bash under sshd is over ssh, as is
// sshd-session's; a chain that reaches init without sshd, or breaks, is
// not.
func TestSSHDAncestor(t *testing.T) {
	type proc struct {
		comm string
		ppid int
	}
	for _, tt := range []struct {
		name  string
		procs map[int]proc
		want  bool
	}{
		{"sshd", map[int]proc{30: {"sudo", 20}, 20: {"bash", 10}, 10: {"sshd", 1}}, true},
		{"sshd-session", map[int]proc{30: {"sudo", 20}, 20: {"bash", 10}, 10: {"sshd-session", 5}, 5: {"sshd", 1}}, true},
		{"console", map[int]proc{30: {"sudo", 20}, 20: {"bash", 10}, 10: {"login", 1}}, false},
		{"gone", map[int]proc{30: {"sudo", 20}}, false},
		{"loop", map[int]proc{30: {"sudo", 20}, 20: {"bash", 30}}, false},
	} {
		stat := func(pid int) (string, int, error) {
			p, ok := tt.procs[pid]
			if !ok {
				return "", 0, errors.New("no such process")
			}
			return p.comm, p.ppid, nil
		}
		if got := sshdAncestor(30, stat); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
