package frontend

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/knockssh/knockssh/knocker"
)

// The identification strings learned are kept one a file, named by host
// and port, in the knock lock directory (knocker.DefaultLockDir: a cache,
// mode 0700, checked as the knocks check it): losing one costs one slow
// first connection, never a wrong one. A file is replaced whole, by
// rename, so a reader sees the old string or the new.

// IdentPath returns the file that holds the identification string learned
// for host and port (ssh's %h and %p) under dir, the lock directory
// (knocker.DefaultLockDir when ""). The host is lower-cased, as ssh does
// with %h, and escaped to a portable file name.
func IdentPath(dir, host, port string) string {
	if dir == "" {
		dir = knocker.DefaultLockDir()
	}
	name := "ident-" + escapeName(strings.ToLower(host)) + "_" + escapeName(port)
	if len(name) > 200 {
		sum := sha256.Sum256([]byte(strings.ToLower(host) + "\x00" + port))
		name = "ident-" + hex.EncodeToString(sum[:16])
	}
	return filepath.Join(dir, name)
}

// escapeName keeps lower-case letters, digits, dots and hyphens; any
// other byte becomes %XX (the "_" between host and port too), so that two
// hosts never share a file.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// LoadIdent returns the identification string learned in path, or nil
// when there is none or what is there is not one (it is then learned
// again).
func LoadIdent(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	line, err := io.ReadAll(io.LimitReader(f, maxIdentLen+1))
	if err != nil || parseIdent(line) != nil {
		return nil
	}
	return line
}

// storeIdent replaces path's identification string with line: a new file
// of mode 0600 in the same directory (made, mode 0700, if need be), then
// renamed over the old one. A directory others may write is refused, as
// the knock's lock refuses it.
func storeIdent(path string, line []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := knocker.CheckLockDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".ident-*")
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	return nil
}
