package sshconfig

import (
	"fmt"
	"io/fs"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// A PermError is a file knockssh does not trust with, or to direct, a
// knock secret: others may change it (or it is owned by someone other
// than the user or root), or replace it through a directory on its way
// (Dir), or, for a file of secrets, read it.
type PermError struct {
	// Path is the file as named; Target where its symlinks lead, when
	// that is elsewhere.
	Path, Target string
	// Dir is the directory at fault, "" when the file itself is.
	Dir string
	// Mode is the mode of the file, or of Dir.
	Mode fs.FileMode
	// Owner names the owner of the file, or of Dir, when it is at fault
	// for its owner ("uid 65534 (nobody)"); "" otherwise.
	Owner string
	// Secret marks a file of secrets; otherwise the file only steers
	// them (an ssh config whose Knock* lines set KnockAddress, say).
	Secret bool
	// Readable: a file of secrets that others may read.
	Readable bool
}

// Error says which file (and directory), and what is wrong.
func (e *PermError) Error() string {
	name := e.Path
	if e.Target != "" {
		name += " (a symlink to " + e.Target + ")"
	}
	what := "it holds knock secrets"
	if !e.Secret {
		what = "it sets where knock secrets go"
	}
	switch {
	case e.Dir != "" && e.Owner != "":
		return fmt.Sprintf("%s: its directory %s is owned by %s, not by you or root: they could replace the file", name, e.Dir, e.Owner)
	case e.Dir != "":
		return fmt.Sprintf("%s: its directory %s is writable by others (mode %04o): they could replace the file", name, e.Dir, e.Mode)
	case e.Owner != "":
		return fmt.Sprintf("%s is owned by %s, not by you or root: %s", name, e.Owner, what)
	case e.Readable:
		return fmt.Sprintf("%s is readable by others (mode %04o): %s", name, e.Mode, what)
	}
	return fmt.Sprintf("%s is writable by others (mode %04o): %s", name, e.Mode, what)
}

// Hint says how to fix it.
func (e *PermError) Hint() string {
	switch {
	case e.Dir != "" && e.Owner != "":
		return "move the file to a directory of your own, or chown the directory to yourself (as root: chown $(id -un) " + e.Dir + ")"
	case e.Dir != "":
		return "chmod go-w " + e.Dir
	case e.Owner != "":
		return "remove " + e.Path + " if it is not yours; if it is: chown $(id -un) " + e.Path + " (as root)"
	case e.Secret:
		return "chmod 600 " + e.Path
	}
	return "chmod go-w " + e.Path
}

// An entry is what the trust checks know of one file or directory.
type entry struct {
	path string
	uid  int
	mode fs.FileMode // with fs.ModeDir and fs.ModeSticky
}

// judge decides whether user uid may trust file, reached through dirs
// (its directories, from its parent up: [dirsUp]), as OpenSSH's
// safe_path does: the file and each directory are owned by the user or
// root, and neither its group nor others may write them, but for a
// sticky directory (/tmp), whose entries only their owners may remove or
// rename. When secret, the file holds secrets: if the user owns it, its
// group and others must not read it either (as ssh's sshkey_perm_ok
// insists for private keys); if root does (and the user is not root),
// reading by others is left to root and only gives a warning.
func judge(uid int, file entry, dirs []entry, secret bool) (*PermError, string) {
	bad := &PermError{Path: file.path, Mode: file.mode.Perm(), Secret: secret}
	switch {
	case file.uid != uid && file.uid != 0:
		bad.Owner = ownerName(file.uid)
		return bad, ""
	case file.mode&0o022 != 0:
		return bad, ""
	}
	for _, d := range dirs {
		switch {
		case d.uid != uid && d.uid != 0:
			bad.Dir, bad.Mode, bad.Owner = d.path, d.mode.Perm(), ownerName(d.uid)
			return bad, ""
		case d.mode&0o022 != 0 && d.mode&fs.ModeSticky == 0:
			bad.Dir, bad.Mode = d.path, d.mode.Perm()
			return bad, ""
		}
	}
	if !secret || file.mode&0o044 == 0 {
		return nil, ""
	}
	if file.uid == uid {
		bad.Readable = true
		return bad, ""
	}
	return nil, fmt.Sprintf("%s is readable by others (mode %04o): it holds knock secrets; its owner, root, may chmod 600 it", file.path, file.mode.Perm())
}

// ownerName names the owner uid: "uid 65534 (nobody)", or "uid 65534"
// when no account has it.
func ownerName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

// dirsUp returns the directories that lead to real, a clean absolute
// path without symlinks: its parent, and each one above it up to home
// (home included) when real is below home, else up to the root.
func dirsUp(real, home string) []string {
	if home != "" {
		home = filepath.Clean(home)
	}
	below := home != "" && strings.HasPrefix(real, strings.TrimSuffix(home, string(filepath.Separator))+string(filepath.Separator))
	var dirs []string
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if below && d == home || d == filepath.Dir(d) {
			return dirs
		}
	}
}

// A KeyPermError is a private key file of the user's that others may
// read or write: ssh ignores it ("UNPROTECTED PRIVATE KEY FILE!").
type KeyPermError struct {
	Path string
	Mode fs.FileMode
}

// Error gives ssh's reason.
func (e *KeyPermError) Error() string {
	return fmt.Sprintf("UNPROTECTED PRIVATE KEY FILE: permissions %04o for '%s' are too open; it is required that your private key files are NOT accessible by others", e.Mode, e.Path)
}

// Hint says how to fix it.
func (e *KeyPermError) Hint() string { return "chmod 600 " + e.Path }

// judgeKey refuses a private key of user uid's that its group or others
// may use in any way, as ssh's sshkey_perm_ok: a key of another user's is
// not judged.
func judgeKey(uid int, key entry) error {
	if key.uid == uid && key.mode.Perm()&0o077 != 0 {
		return &KeyPermError{Path: key.path, Mode: key.mode.Perm()}
	}
	return nil
}

// A ConfigPermError is a user's ssh config that ssh refuses ("Bad owner
// or permissions"): owned by someone other than the user or root, or
// writable by its group or others.
type ConfigPermError struct {
	Path  string
	Owner string // as PermError's, "" when the owner is not at fault
	Mode  fs.FileMode
}

// Error says which file and what is wrong, in ssh's words first.
func (e *ConfigPermError) Error() string {
	if e.Owner != "" {
		return fmt.Sprintf("bad owner or permissions on %s: it is owned by %s, not by you or root", e.Path, e.Owner)
	}
	return fmt.Sprintf("bad owner or permissions on %s: it is writable by others (mode %04o)", e.Path, e.Mode)
}

// Hint says how to fix it.
func (e *ConfigPermError) Hint() string {
	if e.Owner != "" {
		return "remove " + e.Path + " if it is not yours; if it is: chown $(id -un) " + e.Path + " (as root)"
	}
	return "chmod go-w " + e.Path
}

// judgeSSHConfig is ssh's check of the user's ssh config and of every
// file an Include reads (readconf.c): owned by user uid or root, and
// writable by no one else.
func judgeSSHConfig(uid int, file entry) error {
	switch {
	case file.uid != uid && file.uid != 0:
		return &ConfigPermError{Path: file.path, Owner: ownerName(file.uid), Mode: file.mode.Perm()}
	case file.mode&0o022 != 0:
		return &ConfigPermError{Path: file.path, Mode: file.mode.Perm()}
	}
	return nil
}
