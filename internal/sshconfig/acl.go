package sshconfig

// The decision of CheckPerm on Windows, given a file's owner and access
// control entries: pure, so that it is tested on every platform; the
// system calls that read them are in perm_windows.go.

import (
	"fmt"
	"strings"
)

// Well-known SIDs.
const (
	sidSystem          = "S-1-5-18"
	sidAdministrators  = "S-1-5-32-544"
	sidTrustedInstall  = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
	sidOwnerRights     = "S-1-3-4"
	sidEveryone        = "S-1-1-0"
	aceTypeAllowed     = 0 // ACCESS_ALLOWED_ACE_TYPE
	aceFlagInheritOnly = 0x08
	aceFlagInherited   = 0x10
)

// Access mask bits: what lets someone else change the file (its data,
// attributes, extended attributes, its ACL or owner, or all of it), and
// what lets them read it.
const (
	aclWrite = 0x2 | 0x4 | 0x10 | 0x100 | // FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_WRITE_EA, FILE_WRITE_ATTRIBUTES
		0x10000 | 0x40000 | 0x80000 | // DELETE (and so replace), WRITE_DAC, WRITE_OWNER
		0x40000000 | 0x10000000 // GENERIC_WRITE, GENERIC_ALL
	aclRead = 0x1 | 0x80000000 | 0x10000000 // FILE_READ_DATA, GENERIC_READ, GENERIC_ALL
)

// An ace is one access control entry of a file's DACL.
type ace struct {
	SID   string // the trustee, "S-1-5-…"
	Name  string // the trustee as DOMAIN\name, or "" when unknown
	Type  uint8  // ACCESS_ALLOWED_ACE_TYPE, ACCESS_DENIED_ACE_TYPE, …
	Flags uint8  // INHERITED_ACE, INHERIT_ONLY_ACE, …
	Mask  uint32
}

// A fileACL is what the check needs to know about a file and its reader.
type fileACL struct {
	Path      string
	Owner     string // the owner's SID
	OwnerName string // DOMAIN\name, or ""
	User      string // the SID of the user knockssh runs as
	UserName  string // DOMAIN\name, or ""
	// ACEs is the DACL; a NULL DACL (everyone may do anything) is given as
	// one entry allowing Everyone GENERIC_ALL.
	ACEs []ace
	// Key makes reading by anyone else an error too, as Win32-OpenSSH
	// judges a private key (read_ok 0).
	Key bool
}

// check decides as Win32-OpenSSH's check_secure_file_permission does, and
// a little stricter: the owner must be the user, SYSTEM, Administrators or
// TrustedInstaller, and no entry may allow anyone else to write the file
// (as OpenSSH: data, attributes, extended attributes; beyond it: the ACL,
// the owner, GENERIC_WRITE, GENERIC_ALL), else an *aclError. An entry
// allowing someone else to read it gives a warning instead, as a mode of
// 0644 does on Unix (an error for a Key). Denied entries are not counted (as OpenSSH): that can
// refuse a file a denial protects, never pass one others can write.
// Inherit-only entries apply to a folder's children, not to the file, and
// are skipped.
func (f fileACL) check() (warning string, err error) {
	if !f.trustedOwner(f.Owner) {
		return "", &aclError{f: f, who: who(f.OwnerName, f.Owner), sid: f.Owner, owner: true}
	}
	var readers []string
	var readInherited, readExplicit bool
	for _, a := range f.ACEs {
		if allowsUnjudged(a.Type) && a.Flags&aceFlagInheritOnly == 0 && (a.Mask&aclWrite != 0 || f.Key && a.Mask&aclRead != 0) {
			// An object or callback (conditional) entry: its trustee is
			// not read, so it may be anyone.
			return "", &aclError{f: f, who: fmt.Sprintf("whoever an object or conditional entry names (ACE type %#x, which knockssh does not judge)", a.Type), inherited: a.Flags&aceFlagInherited != 0, read: a.Mask&aclWrite == 0}
		}
		if a.Type != aceTypeAllowed || a.Flags&aceFlagInheritOnly != 0 || f.trusted(a.SID) {
			continue
		}
		inherited := a.Flags&aceFlagInherited != 0
		switch {
		case a.Mask&aclWrite != 0, f.Key && a.Mask&aclRead != 0:
			return "", &aclError{f: f, who: who(a.Name, a.SID), sid: a.SID, inherited: inherited, read: a.Mask&aclWrite == 0}
		case a.Mask&aclRead != 0:
			readers = append(readers, who(a.Name, a.SID))
			readInherited = readInherited || inherited
			readExplicit = readExplicit || !inherited
		}
	}
	if len(readers) == 0 {
		return "", nil
	}
	fix := f.fixInherited()
	if readExplicit && !readInherited {
		fix = f.fixExplicit()
	}
	return fmt.Sprintf("%s is readable by %s: it holds knock secrets; %s", f.Path, strings.Join(readers, ", "), fix), nil
}

// allowsUnjudged reports whether an entry of type t allows access but is
// not a plain allowed entry: ACCESS_ALLOWED_OBJECT_ACE_TYPE,
// ACCESS_ALLOWED_CALLBACK_ACE_TYPE and ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE,
// whose trustee sits elsewhere in the entry. They are refused when they
// grant what a plain entry would be refused for.
func allowsUnjudged(t uint8) bool { return t == 0x5 || t == 0x9 || t == 0xb }

// trustedOwner says whether sid may own a file of secrets: the user,
// SYSTEM, Administrators, TrustedInstaller.
func (f fileACL) trustedOwner(sid string) bool {
	switch sid {
	case f.User, sidSystem, sidAdministrators, sidTrustedInstall:
		return true
	}
	return false
}

// trusted says whether an entry for sid may grant anything: a trusted
// owner's, or OWNER RIGHTS (which stands for the owner, checked first).
func (f fileACL) trusted(sid string) bool {
	return f.trustedOwner(sid) || sid == sidOwnerRights
}

// fixInherited is the command that replaces a file's inherited entries by
// one giving the user full control.
func (f fileACL) fixInherited() string {
	user := f.UserName
	if user == "" {
		user = "%USERNAME%"
	}
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r "%s:F"`, f.Path, user)
}

// fixExplicit is the command that removes the entries the file itself
// holds beyond the user's, SYSTEM's and Administrators'.
func (f fileACL) fixExplicit() string {
	var sids []string
	seen := map[string]bool{}
	for _, a := range f.ACEs {
		if a.Type == aceTypeAllowed && a.Flags&(aceFlagInherited|aceFlagInheritOnly) == 0 && a.Mask&(aclRead|aclWrite) != 0 && !f.trusted(a.SID) && !seen[a.SID] {
			seen[a.SID] = true
			sids = append(sids, "*"+a.SID)
		}
	}
	return fmt.Sprintf(`icacls "%s" /remove:g %s`, f.Path, strings.Join(sids, " "))
}

func who(name, sid string) string {
	if name == "" {
		return sid
	}
	return name + " (" + sid + ")"
}

// An aclError is a Windows file of secrets that someone untrusted owns or
// may write.
type aclError struct {
	f         fileACL
	who, sid  string
	owner     bool
	inherited bool
	read      bool // a key others may read, not write
}

// Error says which file and who.
func (e *aclError) Error() string {
	if e.owner {
		return fmt.Sprintf("%s is owned by %s, not by you, SYSTEM or Administrators: it holds knock secrets", e.f.Path, e.who)
	}
	how := "an entry of its own"
	if e.inherited {
		how = "an entry inherited from its folder"
	}
	if e.read {
		return fmt.Sprintf("%s is readable by %s (%s): it is a private key", e.f.Path, e.who, how)
	}
	return fmt.Sprintf("%s is writable by %s (%s): it holds knock secrets", e.f.Path, e.who, how)
}

// Hint says how to fix it.
func (e *aclError) Hint() string {
	switch {
	case e.owner:
		return fmt.Sprintf(`takeown /f "%s"`, e.f.Path)
	case e.inherited:
		return e.f.fixInherited()
	}
	return e.f.fixExplicit()
}
