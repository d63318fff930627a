package sshconfig

import (
	"errors"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// space is readconf.c's WHITESPACE.
const space = " \t\r\n"

// SplitLine splits an ssh_config line into its keyword and the rest, as
// readconf.c's process_config_line does: trailing white space goes, the
// keyword ends at white space, at an "=" (with white space around it) or
// is a double-quoted stretch, and leading white space or a lone "=" comes
// before it. ok is false for a line that sets nothing: empty, a comment,
// or a keyword without a value (which ssh rejects).
func SplitLine(line string) (keyword, rest string, ok bool) {
	keyword, rest, ok = splitKeyword(line)
	return keyword, rest, ok && rest != ""
}

// splitKeyword is SplitLine, also for a keyword without a value (rest is
// then ""); ok is false for an empty or comment line.
func splitKeyword(line string) (keyword, rest string, ok bool) {
	n := len(line) - 1
	for n > 0 && strings.IndexByte(space+"\f", line[n]) >= 0 {
		n--
	}
	line = line[:n+1]
	kw, rest, more, ok := strdelim(line)
	if ok && kw == "" { // leading white space or '='
		if !more {
			return "", "", false
		}
		kw, rest, more, ok = strdelim(rest)
	}
	if !ok || kw == "" || kw[0] == '\n' || kw[0] == '#' {
		return "", "", false
	}
	if !more {
		rest = ""
	}
	return kw, strings.TrimLeft(rest, space), true
}

// strdelim is misc.c's strdelim: the next token, ending at white space, a
// single '=' (with white space around it) or a double-quoted stretch. more
// is false when s had no delimiter at all (C's NULL rest); ok is false for
// an unterminated quote.
func strdelim(s string) (tok, rest string, more, ok bool) {
	i := strings.IndexAny(s, space+"\"=")
	if i < 0 {
		return s, "", false, true
	}
	if s[i] == '"' {
		t := s[:i] + s[i+1:]
		j := strings.IndexByte(t[i:], '"')
		if j < 0 {
			return "", "", false, false
		}
		j += i
		return t[:j], strings.TrimLeft(t[j+1:], space), true, true
	}
	tok, rest = s[:i], strings.TrimLeft(s[i+1:], space)
	if s[i] != '=' && strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], space)
	}
	return tok, rest, true, true
}

// ErrQuote is the error for a value with an unterminated quote.
var ErrQuote = errors.New("unterminated quote")

// Words splits the arguments of a config line (the rest [SplitLine]
// returns) as misc.c's argv_split does for readconf.c: at spaces and
// tabs, except inside single or double quotes, which it removes; a
// backslash escapes a quote or a backslash, and outside quotes a space;
// a word starting with "#" starts a comment. Its only error is [ErrQuote].
func Words(s string) ([]string, error) {
	var words []string
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			continue
		}
		if s[i] == '#' {
			break
		}
		var w []byte
		var quote byte
	word:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || quote == 0 && s[i+1] == ' ') {
					i++
				}
				w = append(w, s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				break word
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				w = append(w, c)
			}
		}
		if quote != 0 {
			return nil, ErrQuote // only at the end of s
		}
		words = append(words, string(w))
	}
	return words, nil
}

// FirstWord returns the first of [Words] of v; v without its surrounding
// white space when it has none or an unterminated quote.
func FirstWord(v string) string {
	words, err := Words(v)
	if err != nil || len(words) == 0 {
		return strings.TrimSpace(v)
	}
	return words[0]
}

// Port converts a port as misc.c's a2port does: a decimal number from 0
// to 65535 (strtonum: leading white space and a sign allowed), or else a
// TCP service name. It returns -1 when s is neither; callers reject 0 too.
func Port(s string) int {
	if n, ok := strtonum(s, 65535); ok {
		return n
	}
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return -1
	}
	p, err := net.LookupPort("tcp", s)
	if err != nil || p < 0 || p > 65535 {
		return -1
	}
	return p
}

// strtonum parses s as OpenBSD's strtonum(s, 0, max) does.
func strtonum(s string, max int) (int, bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if i == len(s) {
		return 0, false
	}
	n := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= max {
			n = n*10 + int(c-'0')
		}
	}
	if n > max || neg && n != 0 {
		return 0, false
	}
	return n, true
}

// isCSpace is isspace(3) in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || c >= '\t' && c <= '\r'
}

// Time parses an ssh_config time: seconds, or a sum of numbers with the
// units s, m, h, d and w, as misc.c's convtime, which refuses a total
// over 2^31-1 seconds (about 68 years).
func Time(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty time")
	}
	var total int64 // seconds
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, errors.New("bad time")
		}
		n, _ := strconv.ParseInt(s[:i], 10, 64)
		unit := int64(1)
		s = s[i:]
		if s != "" {
			switch s[0] | 0x20 {
			case 's':
			case 'm':
				unit = 60
			case 'h':
				unit = 60 * 60
			case 'd':
				unit = 24 * 60 * 60
			case 'w':
				unit = 7 * 24 * 60 * 60
			default:
				return 0, errors.New("bad time unit")
			}
			s = s[1:]
		}
		// n < 10^9 and unit < 10^6: no int64 overflow here.
		if total += n * unit; total > math.MaxInt32 {
			return 0, errors.New("time too large")
		}
	}
	return time.Duration(total) * time.Second, nil
}
