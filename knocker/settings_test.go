package knocker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSettingsVectors reads every testdata/settings file: a good_* file
// holds a "# want: " line with the values it must give, a fail_* file an
// "# error: " line with the start of the error it must give. No error may
// contain a value of the file.
func TestSettingsVectors(t *testing.T) {
	names, err := filepath.Glob("testdata/settings/*.txt")
	if err != nil || len(names) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			s, err := ReadSettings(name, bytes.NewReader(data))
			if want, ok := strings.CutPrefix(first, "# want: "); ok {
				if !strings.HasPrefix(name, "good_") {
					t.Fatal("a want line in a file not named good_*")
				}
				if err != nil {
					t.Fatalf("ReadSettings: %v", err)
				}
				got := fmt.Sprintf("%s %d %d-burst %v", s.Server, s.Port, len(s.Sequence), s.Window)
				if s.HasDevice {
					got += fmt.Sprintf(" dev=%d mac=%v", s.Device, s.MAC)
				}
				if got != want {
					t.Errorf("ReadSettings = %q, want %q", got, want)
				}
				return
			}
			want, ok := strings.CutPrefix(first, "# error: ")
			if !ok || !strings.HasPrefix(name, "fail_") {
				t.Fatal("a vector needs a first line '# want: ' (good_*) or '# error: ' (fail_*)")
			}
			if err == nil {
				t.Fatalf("ReadSettings accepted it: %+v", s)
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start with %q", err, want)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(line, "#") {
					continue
				}
				for _, f := range strings.Fields(line) {
					if len(f) >= 4 && f != "3000" && strings.Contains(err.Error(), f) {
						t.Errorf("error %q echoes the value %q", err, f)
					}
				}
			}
		})
	}
}

func FuzzReadSettings(f *testing.F) {
	names, _ := filepath.Glob("testdata/settings/*.txt")
	for _, n := range names {
		data, _ := os.ReadFile(n)
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ReadSettings("f", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") && !strings.HasPrefix(err.Error(), "reading f") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		if s.Sequence.Validate() != nil || s.Port < 1 || s.Port > 65535 || s.Window%1e9 != 0 || s.Window <= 0 || s.Server == "" {
			t.Fatalf("accepted bad settings: %+v", s)
		}
		if s.HasDevice && s.MAC == nil {
			t.Fatal("six values without a MAC")
		}
	})
}
