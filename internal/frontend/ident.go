package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The server's identification string (RFC 4253 4.2) is the line
// "SSH-2.0-softwareversion comments" it sends first, which ssh waits for
// under its ConnectTimeout (OpenSSH's kex.c, kex_exchange_identification).
// The functions here read it from the server's untrusted bytes as
// OpenSSH's client does: lines end in LF, after any number of CRs; a CR
// elsewhere or a NUL is invalid; a line of more than 4 bytes starting
// "SSH-" is the identification string, and the lines before it (RFC 4253
// allows them, OpenSSH's client logs and skips them) are counted and
// capped.

const (
	// maxIdentLen is RFC 4253 4.2's cap on the identification string, its
	// CR LF included: a longer one is never learned.
	maxIdentLen = 255
	// maxLineLen caps one line, CR included and LF not: OpenSSH's
	// SSH_MAX_BANNER_LEN (8192, not counting CRs) and a CR.
	maxLineLen = 8192 + 1
	// maxIdentLines is OpenSSH's SSH_MAX_PRE_BANNER_LINES: the
	// identification string must be one of the first this many lines.
	maxIdentLines = 1024
	// maxHead caps where the identification string may start: OpenSSH
	// takes 1023 lines of 8 KiB before it, but nothing here needs to
	// hold 8 MiB of text a server sends in place of one.
	maxHead = 64 << 10
)

// errNoIdent is a server that closed the connection before its
// identification string.
var errNoIdent = errors.New("it closed the connection first")

// parseIdent checks that line, with its terminator, is an identification
// string that may be learned and given to ssh in the server's place: at
// most 255 bytes ending in CR LF or LF, starting "SSH-2.0-" or
// "SSH-1.99-" (which OpenSSH's client takes as version 2) and a software
// version, with no other CR, LF or NUL.
func parseIdent(line []byte) error {
	text, ok := bytes.CutSuffix(line, []byte("\n"))
	if !ok {
		return errors.New("no line feed at its end")
	}
	text = bytes.TrimSuffix(text, []byte("\r"))
	rest, ok := bytes.CutPrefix(text, []byte("SSH-2.0-"))
	if !ok {
		rest, ok = bytes.CutPrefix(text, []byte("SSH-1.99-"))
	}
	switch {
	case len(line) > maxIdentLen:
		return fmt.Errorf("%d bytes long, more than RFC 4253's %d", len(line), maxIdentLen)
	case !ok:
		return errors.New("not SSH protocol version 2.0")
	case len(rest) == 0 || rest[0] == ' ':
		return errors.New("no software version")
	case bytes.ContainsAny(text, "\r\n\x00"):
		return errors.New("a carriage return, line feed or NUL inside")
	}
	return nil
}

// An identScan finds the identification string in the first bytes a
// server sends, as they arrive: the result depends on the bytes only,
// never on how they were split.
type identScan struct {
	off   int // where the first line not yet read starts
	seen  int // how much of that line was searched for its end
	lines int // the lines before the identification string
	// first is the first line before it, for messages.
	first []byte
}

// next reads the lines of data (every byte the server sent so far, of
// which earlier calls read data[:s.off]) and returns where the
// identification string is: data[start:end], its terminator included;
// end is 0 while more bytes are needed.
func (s *identScan) next(data []byte) (start, end int, err error) {
	for {
		i := bytes.IndexByte(data[s.off+s.seen:], '\n')
		if i < 0 {
			if s.seen = len(data) - s.off; s.seen > maxLineLen {
				return 0, 0, fmt.Errorf("line %d is longer than %d bytes", s.lines+1, maxLineLen)
			}
			return 0, 0, nil
		}
		i, s.seen = i+s.seen, 0
		line := data[s.off : s.off+i]
		if err := checkLine(line); err != nil {
			return 0, 0, fmt.Errorf("line %d %w", s.lines+1, err)
		}
		start, s.off = s.off, s.off+i+1
		if text := bytes.TrimRight(line, "\r"); len(text) > 4 && bytes.HasPrefix(text, []byte("SSH-")) {
			return start, s.off, nil
		}
		if s.lines == 0 {
			s.first = line
		}
		s.lines++
		switch {
		case s.lines >= maxIdentLines:
			return 0, 0, fmt.Errorf("no identification string in its first %d lines", maxIdentLines)
		case s.off > maxHead:
			return 0, 0, fmt.Errorf("no identification string in its first %d KiB", maxHead>>10)
		}
	}
}

// checkLine checks one line, without its LF, as OpenSSH's client does.
func checkLine(line []byte) error {
	text := bytes.TrimRight(line, "\r")
	switch {
	case len(line) > maxLineLen:
		return fmt.Errorf("is longer than %d bytes", maxLineLen)
	case bytes.IndexByte(text, 0) >= 0:
		return errors.New("holds a NUL byte")
	case bytes.IndexByte(text, '\r') >= 0:
		return errors.New("holds a carriage return before its end")
	}
	return nil
}

// readIdent reads r, the server's side of the connection, until its
// identification string has arrived, and returns every byte read (data,
// which may go on after it) and where the string is, data[start:end]. On
// an error, data is what was read, and pre the first line before the
// string, if any.
func readIdent(r io.Reader) (data []byte, start, end int, pre []byte, err error) {
	var s identScan
	buf := make([]byte, 4096)
	for {
		n, rerr := r.Read(buf)
		data = append(data, buf[:n]...)
		if start, end, err = s.next(data); err != nil || end > 0 {
			return data, start, end, s.first, err
		}
		if rerr == io.EOF {
			return data, 0, 0, s.first, errNoIdent
		}
		if rerr != nil {
			return data, 0, 0, s.first, rerr
		}
	}
}
