package sshconfig

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
)

// Home returns the user's home directory: $HOME (%USERPROFILE% on
// Windows), else the account's, else "" (never a relative path).
func Home() string {
	if home, err := os.UserHomeDir(); err == nil && filepath.IsAbs(home) {
		return home
	}
	if u, err := user.Current(); err == nil && filepath.IsAbs(u.HomeDir) {
		return u.HomeDir
	}
	return ""
}

// ExpandTilde expands a leading "~" (the user's home directory) or
// "~user" (that user's) in p, as ssh's tilde_expand does.
func ExpandTilde(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, "~")
	if !ok {
		return p, nil
	}
	name, tail := rest, ""
	if i := strings.IndexFunc(rest, isSeparator); i >= 0 {
		name, tail = rest[:i], rest[i+1:]
	}
	if name == "" {
		home := Home()
		if home == "" {
			return "", fmt.Errorf("no home directory for %q", p)
		}
		return filepath.Join(home, tail), nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("no user %q for %q", name, p)
	}
	return filepath.Join(u.HomeDir, tail), nil
}

func isSeparator(r rune) bool {
	return r == '/' || runtime.GOOS == "windows" && r == '\\'
}

// Expand expands a file name of an ssh_config: a leading ~ ([ExpandTilde]),
// ${VAR} from the environment, and %-tokens: "%%" is "%", and every other
// "%c" is tokens[c], an error when tokens has no c.
func Expand(p string, tokens map[byte]string) (string, error) {
	p, err := ExpandTilde(p)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '$' && i+1 < len(p) && p[i+1] == '{':
			end := strings.IndexByte(p[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", p)
			}
			name := p[i+2 : i+end]
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable %q is not set", name)
			}
			b.WriteString(v)
			i += end
		case c == '%' && i+1 < len(p):
			i++
			if p[i] == '%' {
				b.WriteByte('%')
				continue
			}
			v, ok := tokens[p[i]]
			if !ok {
				return "", fmt.Errorf("unknown token %%%c in %q", p[i], p)
			}
			b.WriteString(v)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
