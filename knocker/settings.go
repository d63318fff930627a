package knocker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// SettingsFile is the name of the seed clients' settings file, read from
// the current directory when no other is given.
const SettingsFile = "knocksettings.txt"

// Settings are the values of a settings file of the seed's clients.
type Settings struct {
	// Server is the address or name knocked on.
	Server string
	// Port is the knock port.
	Port int
	// Sequence is the secret.
	Sequence Sequence
	// Window is the knock window, given in milliseconds in the file.
	Window time.Duration
	// HasDevice is set when the file has the OpenSesamy tool's six
	// fields: Device and MAC are valid.
	HasDevice bool
	// Device is the interface index: 0 for none (the routing table
	// decides), else an index as "knockssh --interfaces" lists it.
	Device int
	// DeviceLine is the line of the interface index, for errors about it.
	DeviceLine int
	// MAC is the OpenSesamy tool's MAC address field. It is accepted and
	// not used: the kernel resolves the link layer.
	MAC net.HardwareAddr
}

// maxSettingsLine bounds a line of a settings file.
const maxSettingsLine = 4096

// ReadSettings reads a settings file of the seed's PortKnocker (4 values:
// server, port, sequence, window in milliseconds) or OpenSesamy tool (6
// values: the same, then the interface index and the MAC address). The
// values are separated by white space: one a line, as the seed describes
// the file, or all on one line, as its example shows, or anything between.
// Blank lines and lines starting with '#' are ignored.
//
// Errors name file:line and what was expected, and never contain a value
// from the file, which may be the secret.
func ReadSettings(name string, r io.Reader) (Settings, error) {
	type token struct {
		s    string
		line int
	}
	var toks []token
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxSettingsLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if len(toks) == 6 {
				return Settings{}, fmt.Errorf("%s:%d: more than 6 values, want server, port, sequence, window in ms, and optionally interface index and MAC address", name, n)
			}
			toks = append(toks, token{f, n})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Settings{}, fmt.Errorf("%s:%d: line longer than %d bytes", name, n+1, maxSettingsLine)
		}
		return Settings{}, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(toks) != 4 && len(toks) != 6 {
		return Settings{}, fmt.Errorf("%s:%d: found %d values, want 4 (server, port, sequence, window in ms) or 6 (the same, interface index, MAC address)", name, max(n, 1), len(toks))
	}
	at := func(i int) string { return fmt.Sprintf("%s:%d", name, toks[i].line) }
	var s Settings
	s.Server = toks[0].s
	if !validHost(s.Server) {
		return s, fmt.Errorf("%s: value 1, the server, is not an address or host name", at(0))
	}
	port, err := strconv.Atoi(toks[1].s)
	if err != nil || port < 1 || port > 65535 {
		return s, fmt.Errorf("%s: value 2, the port, is not a number from 1 to 65535", at(1))
	}
	s.Port = port
	if s.Sequence, err = ParseSequence(toks[2].s); err != nil {
		return s, fmt.Errorf("%s: value 3, the sequence: %w", at(2), err)
	}
	ms, err := strconv.Atoi(toks[3].s)
	if err != nil || ms < 1 {
		return s, fmt.Errorf("%s: value 4, the window, is not a positive number of milliseconds such as 3000", at(3))
	}
	if ms%1000 != 0 || ms > 24*3600*1000 {
		return s, fmt.Errorf("%s: value 4, the window, is not a whole number of seconds in milliseconds (such as 3000) up to a day: the server's --seconds is an integer", at(3))
	}
	s.Window = time.Duration(ms) * time.Millisecond
	if len(toks) == 4 {
		return s, nil
	}
	s.HasDevice = true
	dev, err := strconv.Atoi(toks[4].s)
	if err != nil || dev < 0 || dev > 1<<24 {
		return s, fmt.Errorf("%s: value 5, the interface index, is not a number such as 1 (0 for none)", at(4))
	}
	s.Device, s.DeviceLine = dev, toks[4].line
	if s.MAC, err = net.ParseMAC(toks[5].s); err != nil {
		return s, fmt.Errorf("%s: value 6, the MAC address, is not like 00:0E:35:0E:77:B0", at(5))
	}
	return s, nil
}

// validHost accepts an IP address (IPv6 possibly in brackets) or a host
// name of letters, digits, '-', '_' and '.'.
func validHost(h string) bool {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, "-") {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
