//go:build unix

package sshconfig

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckPerm checks a file of secrets (a knock config, a settings file, an
// ssh config that gives the KnockSequence) that has been opened as path,
// fi being the open file's FileInfo. It is refused, with a [*PermError],
// unless the file and every directory on the way to it (symlinks
// resolved: [CheckTrust]) are the user's or root's and writable by them
// alone, and, for a file of the user's, only the user may read it. A file
// of root's that others may read gives a warning through warn (which may
// be nil): the user cannot change it.
func CheckPerm(path string, fi fs.FileInfo, warn func(string)) error {
	return check(path, fi, true, warn)
}

// CheckTrust checks a file that steers secrets without holding them (an
// ssh config whose Knock* lines give a KnockAddress or a KnockPort), as
// OpenSSH's safe_path does: the file where path's symlinks lead (fi being
// the FileInfo of the file opened) and each directory above it, up to the
// user's home directory for a file in it, else up to the root, must be
// owned by the user or root and writable by no one else. A sticky
// directory (/tmp) others may write is accepted, unlike safe_path: only
// an entry's owner may remove or rename it there, and the entry is
// checked. The directory path names is checked too, when a symlink leads
// elsewhere.
func CheckTrust(path string, fi fs.FileInfo) error {
	return check(path, fi, false, nil)
}

func check(path string, fi fs.FileInfo, secret bool, warn func(string)) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	if now, err := os.Stat(real); err != nil || !os.SameFile(now, fi) {
		return fmt.Errorf("%s changed while it was read", path)
	}
	home := Home()
	if h, err := filepath.EvalSymlinks(home); err == nil {
		home = h
	}
	dirs := dirsUp(real, home)
	if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil && parent != filepath.Dir(real) {
		dirs = append(dirs, dirsUp(filepath.Join(parent, filepath.Base(abs)), home)...)
	}
	file, err := entryOf(path, fi)
	if err != nil {
		return err
	}
	entries := make([]entry, 0, len(dirs))
	for _, d := range dirs {
		di, err := os.Lstat(d)
		if err != nil {
			return err
		}
		e, err := entryOf(d, di)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	bad, warning := judge(os.Getuid(), file, entries, secret)
	if bad != nil {
		if real != abs {
			bad.Target = real
		}
		return bad
	}
	if warning != "" && warn != nil {
		warn(warning)
	}
	return nil
}

// entryOf returns what judge needs of fi.
func entryOf(path string, fi fs.FileInfo) (entry, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return entry{}, fmt.Errorf("%s: no owner known", path)
	}
	return entry{path: path, uid: int(st.Uid), mode: fi.Mode()}, nil
}

// CheckKey refuses a private key file of the user's that its group or
// others may read or write, as ssh's sshkey_perm_ok does (a key of
// someone else's, which root may be reading, is not checked); fi is the
// open file's FileInfo.
func CheckKey(path string, fi fs.FileInfo) error {
	e, err := entryOf(path, fi)
	if err != nil {
		return err
	}
	return judgeKey(os.Getuid(), e)
}

// CheckSSHConfig refuses, with a [*ConfigPermError], an ssh config that
// ssh itself refuses: the user's ~/.ssh/config, or a file an Include
// reads, owned by someone other than the user or root, or writable by its
// group or others; fi is the open file's FileInfo.
func CheckSSHConfig(path string, fi fs.FileInfo) error {
	e, err := entryOf(path, fi)
	if err != nil {
		return err
	}
	return judgeSSHConfig(os.Getuid(), e)
}
