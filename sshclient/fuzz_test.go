package sshclient

import (
	"strings"
	"testing"
)

// FuzzNativeOptions fuzzes the native client's option parsing: ssh's
// argv (words separated by NUL), the -L specifications and the -o lines.
// It must never panic; a parsed command line has a destination, its
// forwardings parse back to themselves, and every error is one line.
func FuzzNativeOptions(f *testing.F) {
	for _, seed := range []string{
		"-p\x002222\x00-l\x00me\x00host\x00ls\x00-l",
		"-NT\x00-L\x00[::1]:8080:[2001:db8::1]:22\x00host",
		"-o\x00StrictHostKeyChecking accept-new\x00-o\x00Port=22\x00me@host",
		"-X\x00host", "-vvv\x00-i\x00key\x00ssh://me@host:22", "-L\x00*:1:h:ssh\x00h",
		"-o\x00ServerAliveInterval=1m\x00-o\x00LocalForward 1 h:2\x00h",
		"-tt\x00--\x00host\x00-X",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		a, err := parseNativeArgs(args)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q: error of more than one line: %q", args, err)
			}
		} else {
			if a.inv.Dest < 0 || a.inv.Alias == "" {
				t.Fatalf("%q: parsed without a destination: %+v", args, a.inv)
			}
			for _, spec := range a.forwards {
				fw, err := parseForward(spec)
				if err != nil || fw.String() != spec {
					t.Fatalf("%q: forwarding %q parses back as %q, %v", args, spec, fw, err)
				}
			}
		}
		for _, word := range args {
			var st settings
			if err := st.option(word); err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("-o %q: error of more than one line: %q", word, err)
			}
			if fw, err := parseForward(word); err == nil {
				if again, err := parseForward(fw.String()); err != nil || again != fw {
					t.Fatalf("-L %q: %+v does not parse back: %+v, %v", word, fw, again, err)
				}
			}
		}
	})
}
