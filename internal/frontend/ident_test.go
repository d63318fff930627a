package frontend

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestParseIdent: what may be learned and given to ssh in the server's
// place.
func TestParseIdent(t *testing.T) {
	for _, tc := range []struct {
		line, err string // err "" for a good one
	}{
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", ""},
		{"SSH-2.0-OpenSSH_9.6\n", ""},
		{"SSH-1.99-Cisco-1.25\r\n", ""},
		{"SSH-2.0-x\r\n", ""},
		{"SSH-2.0-" + strings.Repeat("a", 245) + "\r\n", ""}, // 255 bytes
		{"SSH-2.0-" + strings.Repeat("a", 246) + "\r\n", "more than RFC 4253's 255"},
		{"SSH-2.0-OpenSSH_9.6\r", "no line feed"},
		{"SSH-2.0-OpenSSH_9.6", "no line feed"},
		{"SSH-1.5-old\r\n", "not SSH protocol version 2.0"},
		{"SSH-2.0\r\n", "not SSH protocol version 2.0"},
		{"ssh-2.0-lower\r\n", "not SSH protocol version 2.0"},
		{"SSH-2.0-\r\n", "no software version"},
		{"SSH-2.0- comment\r\n", "no software version"},
		{"SSH-2.0-a\rb\r\n", "inside"},
		{"SSH-2.0-a\x00b\r\n", "inside"},
		{"SSH-2.0-a\r\r\n", "inside"},
		{"", "no line feed"},
	} {
		err := parseIdent([]byte(tc.line))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseIdent(%q) = %v, want %q", tc.line, err, tc.err)
		}
	}
}

// identCases are a server's first bytes: where the identification string
// is, or the error.
var identCases = []struct {
	name, data string
	ident      string // "" when none is found
	err        string // "" for none; "more" when more bytes are needed
}{
	{"openssh", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x04\x1c", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", ""},
	{"lf only", "SSH-2.0-dropbear\nrest", "SSH-2.0-dropbear\n", ""},
	{"crs", "SSH-2.0-x\r\r\r\n", "SSH-2.0-x\r\r\r\n", ""},
	{"pre-banner lines", "Welcome\r\n\r\nno SSH here\nSSH-2.0-x\r\nK", "SSH-2.0-x\r\n", ""},
	{"SSH- alone is a line before", "SSH-\r\nSSH-2.0-y\r\n", "SSH-2.0-y\r\n", ""},
	{"1.99", "SSH-1.99-old\r\n", "SSH-1.99-old\r\n", ""},
	{"version 1 found, not learned", "SSH-1.5-old\n", "SSH-1.5-old\n", ""},
	{"incomplete", "SSH-2.0-Open", "", "more"},
	{"empty", "", "", "more"},
	{"incomplete after lines", "hello\nSSH-2.0", "", "more"},
	{"nul", "hel\x00lo\nSSH-2.0-x\n", "", "line 1 holds a NUL"},
	{"nul in ident", "SSH-2.0-\x00\n", "", "line 1 holds a NUL"},
	{"cr inside", "a\rb\nSSH-2.0-x\n", "", "line 1 holds a carriage return"},
	{"cr inside ident", "pre\nSSH-2.0-x\ry\r\n", "", "line 2 holds a carriage return"},
	{"long line", strings.Repeat("a", maxLineLen+1) + "\nSSH-2.0-x\n", "", "line 1 is longer than 8193"},
	{"long pending line", strings.Repeat("a", maxLineLen+1), "", "line 1 is longer than 8193"},
	{"longest line", strings.Repeat("a", maxLineLen) + "\nSSH-2.0-x\n", "SSH-2.0-x\n", ""},
	{"1023 lines before", strings.Repeat("\n", maxIdentLines-1) + "SSH-2.0-x\n", "SSH-2.0-x\n", ""},
	{"1024 lines before", strings.Repeat("\n", maxIdentLines) + "SSH-2.0-x\n", "", "no identification string in its first 1024 lines"},
	{"64 KiB before", strings.Repeat(strings.Repeat("a", 999)+"\n", 65) + "SSH-2.0-x\n", "SSH-2.0-x\n", ""},
	{"over 64 KiB before", strings.Repeat(strings.Repeat("a", 999)+"\n", 66) + "SSH-2.0-x\n", "", "in its first 64 KiB"},
}

// TestIdentScan: the identification string found, or the error, whether
// the bytes arrive at once, one by one or in two parts.
func TestIdentScan(t *testing.T) {
	for _, tc := range identCases {
		data := []byte(tc.data)
		start, end, err := scanAll(data)
		ident, msg, _ := strings.Cut(scanResult(data, start, end, err), "|")
		if ident != tc.ident || tc.err == "" && msg != "" || !strings.Contains(msg, tc.err) {
			t.Errorf("%s: found %q, error %q; want %q, %q", tc.name, ident, msg, tc.ident, tc.err)
		}
		for _, split := range []int{1, len(data) / 2} {
			if s, e, serr := scanSplit(data, split); s != start || e != end || (serr == nil) != (err == nil) {
				t.Errorf("%s: in parts of %d: %d, %d, %v; at once %d, %d, %v", tc.name, split, s, e, serr, start, end, err)
			}
		}
	}
}

// scanAll scans data in one call.
func scanAll(data []byte) (start, end int, err error) {
	var s identScan
	return s.next(data)
}

// scanSplit scans data as it would arrive in parts of n bytes.
func scanSplit(data []byte, n int) (start, end int, err error) {
	var s identScan
	n = max(n, 1)
	for i := 0; ; i += n {
		start, end, err = s.next(data[:min(i, len(data))])
		if err != nil || end > 0 || i >= len(data) {
			return start, end, err
		}
	}
}

// scanResult is "ident|err" for a scan's result, err "more" when more
// bytes are needed.
func scanResult(data []byte, start, end int, err error) string {
	switch {
	case err != nil:
		return "|" + err.Error()
	case end == 0:
		return "|more"
	}
	return string(data[start:end]) + "|"
}

// TestReadIdent: readIdent over a reader, whole or a byte at a time, and
// its errors: the server's end of file before the string, a read error.
func TestReadIdent(t *testing.T) {
	const sent = "Hello\r\nSSH-2.0-OpenSSH_9.6\r\nKEXINIT..."
	for _, r := range []io.Reader{strings.NewReader(sent), iotest.OneByteReader(strings.NewReader(sent)), iotest.HalfReader(strings.NewReader(sent))} {
		data, start, end, pre, err := readIdent(r)
		if err != nil || string(data[start:end]) != "SSH-2.0-OpenSSH_9.6\r\n" || !strings.HasPrefix(sent, string(data)) || pre != nil && string(pre) != "Hello\r" {
			t.Errorf("readIdent: %q %d %d %q %v", data, start, end, pre, err)
		}
	}
	data, _, end, pre, err := readIdent(strings.NewReader("Too many connections\r\n"))
	if !errors.Is(err, errNoIdent) || end != 0 || string(pre) != "Too many connections\r" || string(data) != "Too many connections\r\n" {
		t.Errorf("end of file first: %q %d %q %v", data, end, pre, err)
	}
	boom := errors.New("boom")
	if _, _, _, _, err := readIdent(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
	if _, _, _, _, err := readIdent(strings.NewReader(strings.Repeat("x", 100<<10))); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("endless line: %v", err)
	}
}

// FuzzReadIdent feeds readIdent a server's bytes, as a hostile server
// could send them, whole and a byte at a time: the same result either
// way; what it finds is a line of what was sent, ending in LF, the
// string's form as OpenSSH's client reads it; it never holds more than
// the caps allow.
func FuzzReadIdent(f *testing.F) {
	for _, tc := range identCases {
		f.Add([]byte(tc.data))
	}
	f.Add([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"))
	f.Fuzz(func(t *testing.T, sent []byte) {
		data, start, end, _, err := readIdent(bytes.NewReader(sent))
		data1, start1, end1, _, err1 := readIdent(iotest.OneByteReader(bytes.NewReader(sent)))
		if start != start1 || end != end1 || (err == nil) != (err1 == nil) || !bytes.Equal(data1, sent[:len(data1)]) {
			t.Fatalf("whole: %d %d %v; byte by byte: %d %d %v", start, end, err, start1, end1, err1)
		}
		if !bytes.HasPrefix(sent, data) || len(data1) > maxHead+maxLineLen+1 {
			t.Fatalf("read %d bytes of %d", len(data1), len(sent))
		}
		if err != nil {
			return
		}
		line := data[start:end]
		text := bytes.TrimRight(line[:len(line)-1], "\r")
		if line[len(line)-1] != '\n' || !bytes.HasPrefix(text, []byte("SSH-")) || len(text) <= 4 ||
			bytes.ContainsAny(text, "\r\n\x00") || start > maxHead || bytes.Count(data[:start], []byte("\n")) >= maxIdentLines {
			t.Fatalf("found %q at %d", line, start)
		}
		if parseIdent(line) == nil && len(line) > maxIdentLen {
			t.Fatalf("learnable, and %d bytes long", len(line))
		}
	})
}
