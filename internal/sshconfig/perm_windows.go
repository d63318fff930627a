package sshconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// CheckPerm refuses a file of secrets (a knock config, a settings file)
// that someone other than the user, SYSTEM or Administrators owns or may
// write, and warns through warn (which may be nil) about one they may
// read, judging its owner and DACL as Win32-OpenSSH does (see
// fileACL.check). A file whose security cannot be read is refused.
func CheckPerm(path string, fi fs.FileInfo, warn func(string)) error {
	w, err := judgeFile(path, fi, false)
	if w != "" && warn != nil {
		warn(w)
	}
	return err
}

// judgeFile reads path's owner and DACL and judges them (fileACL.check),
// as a private key when key.
func judgeFile(path string, fi fs.FileInfo, key bool) (warning string, err error) {
	f, err := readACL(path, fi)
	if err != nil {
		return "", fmt.Errorf("reading the permissions of %s: %w", path, err)
	}
	f.Key = key
	return f.check()
}

// readACL reads the owner and DACL of the file path names (where a
// symbolic link points), and who the user is. It reads them from an open
// handle and, when fi (the file as it was read) is given, checks that the
// handle is that same file: a file swapped in between cannot pass for it.
func readACL(path string, fi fs.FileInfo) (fileACL, error) {
	f := fileACL{Path: path}
	tok, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return f, err
	}
	f.User, f.UserName = tok.User.Sid.String(), accountName(tok.User.Sid)
	file, err := os.Open(path) // GENERIC_READ holds READ_CONTROL
	if err != nil {
		return f, err
	}
	defer file.Close()
	if fi != nil {
		st, err := file.Stat()
		if err != nil {
			return f, err
		}
		if !os.SameFile(st, fi) {
			return f, errors.New("the file changed while it was read")
		}
	}
	sd, err := windows.GetSecurityInfo(windows.Handle(file.Fd()), windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return f, err
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return f, err
	}
	if owner == nil {
		return f, errors.New("no owner")
	}
	f.Owner, f.OwnerName = owner.String(), accountName(owner)
	dacl, _, err := sd.DACL()
	if err != nil {
		return f, err
	}
	if dacl == nil { // a NULL DACL: everyone may do anything
		f.ACEs = []ace{{SID: sidEveryone, Name: "Everyone", Type: aceTypeAllowed, Mask: 0x10000000}}
		return f, nil
	}
	for i := range uint32(dacl.AceCount) {
		var a *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &a); err != nil {
			return f, err
		}
		e := ace{Type: a.Header.AceType, Flags: a.Header.AceFlags, Mask: uint32(a.Mask)}
		// Allowed and denied entries keep the trustee at SidStart; the
		// others (object, callback, audit) are not judged.
		if e.Type == windows.ACCESS_ALLOWED_ACE_TYPE || e.Type == windows.ACCESS_DENIED_ACE_TYPE {
			sid := (*windows.SID)(unsafe.Pointer(&a.SidStart))
			e.SID, e.Name = sid.String(), accountName(sid)
		}
		f.ACEs = append(f.ACEs, e)
	}
	return f, nil
}

// accountName is DOMAIN\name of sid, or "" when it cannot be looked up.
func accountName(sid *windows.SID) string {
	account, domain, _, err := sid.LookupAccount("")
	switch {
	case err != nil:
		return ""
	case domain == "":
		return account
	}
	return domain + `\` + account
}
