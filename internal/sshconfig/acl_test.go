package sshconfig

import (
	"errors"
	"strings"
	"testing"
)

// TestACLCheck: the Windows decision on an owner and DACL, with the
// entries a profile's .ssh folder gives its files, and the ways others get
// in.
func TestACLCheck(t *testing.T) {
	const (
		me     = "S-1-5-21-1-2-3-1001"
		other  = "S-1-5-21-1-2-3-1002"
		users  = "S-1-5-32-545"
		authn  = "S-1-5-11"
		path   = `C:\Users\me\.ssh\knock_config`
		inh    = aceFlagInherited
		full   = 0x1f01ff // FILE_ALL_ACCESS
		rx     = 0x1200a9 // FILE_GENERIC_READ | FILE_GENERIC_EXECUTE
		modify = 0x1301bf
		denied = 1
	)
	profile := []ace{ // what a file under %USERPROFILE% inherits
		{SID: sidSystem, Type: aceTypeAllowed, Flags: inh, Mask: full},
		{SID: sidAdministrators, Type: aceTypeAllowed, Flags: inh, Mask: full},
		{SID: me, Type: aceTypeAllowed, Flags: inh, Mask: full},
	}
	plus := func(extra ...ace) []ace { return append(append([]ace{}, profile...), extra...) }
	for _, c := range []struct {
		name    string
		owner   string
		aces    []ace
		err     string // in the error; "" for none
		hint    string // in the hint
		warning string // in the warning; "" for none
	}{
		{name: "profile", owner: me, aces: profile},
		{name: "owned by Administrators", owner: sidAdministrators, aces: profile},
		{name: "owned by SYSTEM", owner: sidSystem, aces: profile},
		{name: "owned by TrustedInstaller", owner: sidTrustedInstall, aces: profile},
		{name: "owned by another user", owner: other, aces: profile, err: "is owned by OTHER\\bob (" + other + ")", hint: `takeown /f "` + path + `"`},
		{name: "owned by OWNER RIGHTS", owner: sidOwnerRights, aces: profile, err: "is owned by"},
		{name: "Everyone may write", owner: me, aces: plus(ace{SID: sidEveryone, Type: aceTypeAllowed, Mask: modify}), err: "writable by " + sidEveryone + " (an entry of its own)", hint: `/remove:g *` + sidEveryone},
		{name: "NULL DACL", owner: me, aces: []ace{{SID: sidEveryone, Type: aceTypeAllowed, Mask: 0x10000000}}, err: "writable by"},
		{name: "inherited write", owner: me, aces: plus(ace{SID: authn, Type: aceTypeAllowed, Flags: inh, Mask: modify}), err: "inherited from its folder", hint: `/inheritance:r /grant:r "ME\me:F"`},
		{name: "append only", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x4}), err: "writable"},
		{name: "attributes only (as OpenSSH)", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x100}), err: "writable"},
		{name: "change the ACL", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x40000}), err: "writable"},
		{name: "take ownership", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x80000}), err: "writable"},
		{name: "GENERIC_WRITE", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x40000000}), err: "writable"},
		{name: "delete", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x10000}), err: "writable"},
		{name: "conditional write", owner: me, aces: plus(ace{Type: 0x9, Mask: modify}), err: "ACE type 0x9"},
		{name: "object entry, read only", owner: me, aces: plus(ace{Type: 0x5, Mask: rx})},
		{name: "read and execute", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Flags: inh, Mask: rx}), warning: "is readable by " + users, hint: "/inheritance:r"},
		{name: "read, explicit", owner: me, aces: plus(ace{SID: other, Name: `OTHER\bob`, Type: aceTypeAllowed, Mask: rx}), warning: `readable by OTHER\bob`, hint: "/remove:g *" + other},
		{name: "GENERIC_READ", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x80000000}), warning: "readable"},
		{name: "read attributes only", owner: me, aces: plus(ace{SID: users, Type: aceTypeAllowed, Mask: 0x80 | 0x20000 | 0x100000})},
		{name: "denied entries are not counted", owner: me, aces: plus(ace{SID: sidEveryone, Type: denied, Mask: full})},
		{name: "a denial does not excuse a grant", owner: me, aces: append([]ace{{SID: users, Type: denied, Mask: full}}, plus(ace{SID: users, Type: aceTypeAllowed, Mask: modify})...), err: "writable"},
		{name: "inherit-only entries", owner: me, aces: plus(ace{SID: "S-1-3-0", Type: aceTypeAllowed, Flags: aceFlagInheritOnly, Mask: full})},
		{name: "OWNER RIGHTS", owner: me, aces: plus(ace{SID: sidOwnerRights, Type: aceTypeAllowed, Mask: full})},
		{name: "object entry granting all", owner: me, aces: plus(ace{SID: users, Type: 5, Mask: full}), err: "ACE type 0x5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := fileACL{Path: path, Owner: c.owner, User: me, UserName: `ME\me`, ACEs: c.aces}
			if c.owner == other {
				f.OwnerName = `OTHER\bob`
			}
			w, err := f.check()
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want one saying %q", err, c.err)
			}
			if err != nil {
				var h interface{ Hint() string }
				if !errors.As(err, &h) || !strings.Contains(h.Hint(), c.hint) || !strings.HasPrefix(err.Error(), path+" ") || !strings.Contains(err.Error(), "knock secrets") {
					t.Errorf("error %q with hint %v, want the path first and a hint with %q", err, h, c.hint)
				}
			}
			if c.warning == "" && w != "" || c.warning != "" && !strings.Contains(w, c.warning) {
				t.Errorf("warning %q, want %q", w, c.warning)
			}
			if w != "" && (!strings.Contains(w, c.hint) || !strings.HasPrefix(w, path+" ")) {
				t.Errorf("warning %q, want the path first and the fix %q", w, c.hint)
			}
		})
	}
}

// TestACLKey: for a private key, reading by anyone else is refused too.
func TestACLKey(t *testing.T) {
	const me = "S-1-5-21-1-2-3-1001"
	base := []ace{
		{SID: sidSystem, Type: aceTypeAllowed, Flags: aceFlagInherited, Mask: 0x1f01ff},
		{SID: me, Type: aceTypeAllowed, Flags: aceFlagInherited, Mask: 0x1f01ff},
	}
	f := fileACL{Path: `C:\Users\me\.ssh\id_ed25519`, Owner: me, User: me, ACEs: base, Key: true}
	if w, err := f.check(); err != nil || w != "" {
		t.Fatalf("a key only I may read: %q, %v", w, err)
	}
	f.ACEs = append(base, ace{SID: "S-1-5-32-545", Type: aceTypeAllowed, Flags: aceFlagInherited, Mask: 0x1200a9})
	_, err := f.check()
	var h interface{ Hint() string }
	if err == nil || !strings.Contains(err.Error(), "readable by S-1-5-32-545 (an entry inherited from its folder): it is a private key") || !errors.As(err, &h) || !strings.Contains(h.Hint(), "/inheritance:r") {
		t.Fatalf("a key Users may read: %v", err)
	}
	f.Key = false
	if w, err := f.check(); err != nil || w == "" {
		t.Fatalf("the same file as a config: %q, %v; want a warning", w, err)
	}
}

// TestACLHintNoUserName: without the user's name the hint still works in
// cmd.exe.
func TestACLHintNoUserName(t *testing.T) {
	f := fileACL{Path: `C:\k`, Owner: sidSystem, User: "S-1-5-21-9", ACEs: []ace{{SID: "S-1-5-11", Type: aceTypeAllowed, Flags: aceFlagInherited, Mask: 0x2}}}
	_, err := f.check()
	var h interface{ Hint() string }
	if !errors.As(err, &h) || h.Hint() != `icacls "C:\k" /inheritance:r /grant:r "%USERNAME%:F"` {
		t.Fatalf("error %v, hint %v", err, h)
	}
}
