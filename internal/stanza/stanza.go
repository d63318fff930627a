// Package stanza reads knock stanzas: the Knock* settings that apply to one
// host alias, from knock configs and from the user's ssh config.
//
// # Files
//
// Knock stanzas use ssh_config(5) syntax, read by package sshconfig: Host
// blocks with patterns, Include, and keywords that are case-insensitive
// and take their value after a space or an "=". Without --config, [Lookup]
// reads, in this order ([DefaultFiles]):
//
//   - ~/.ssh/knock_config, if it exists;
//   - the user's ssh config: the file given to ssh -F, which must exist
//     ("-F none" means none), else ~/.ssh/config, if it exists;
//   - /etc/ssh/knock_config, if it exists (not on Windows).
//
// With --config, only that file is read, and it must exist.
//
// A knock config (knock_config or --config) holds the secrets in a file of
// their own, which ssh never reads. It may hold only Host, Include and
// Knock* lines, and it is strict, as ssh is with its own config: an
// unknown keyword (IgnoreUnknown included: it would hide a misspelt Knock*
// keyword), a Match line, or a bad value, even in a Host block that does
// not apply, is an error naming file:line. Errors never show a
// KnockSequence value, even a malformed one.
//
// The Knock* lines may instead go in the user's ssh config, after an
// "IgnoreUnknown Knock*" line so that ssh accepts them. Only the Knock*
// lines of that file are read, and the file never makes Lookup fail but
// for its permissions: a bad line, or a file that cannot be read, gives a
// warning and is passed over. Knock* lines in a Match block are ignored,
// with a warning: knockssh cannot evaluate Match.
//
// The keywords, what they take and their defaults are one table,
// keywords.go, from which the README's table is checked.
//
// # Precedence
//
// As in ssh, the first value found for each keyword wins: files are read
// in order, each from top to bottom, included files where their Include
// line is, and a value applies when its Host block matches the alias (the
// name typed on ssh's command line, before HostName).
//
// # Permissions
//
// On Unix, a knock config, or a file it includes, must pass
// sshconfig.CheckPerm (it holds secrets: owned by the user or root, where
// its symlinks lead, writable by no one else, nor is any directory on its
// way, and not readable by others if it is the user's). An ssh config, or a
// file it includes, is checked only when a Knock* value used comes from
// it: with sshconfig.CheckPerm when that value is the KnockSequence, else
// with sshconfig.CheckTrust (no check of reading). On Windows,
// sshconfig.CheckPerm judges the file's owner and access control list
// instead, as Win32-OpenSSH does.
//
// # Wildcards
//
// A KnockSequence from a Host block whose patterns hold a wildcard (or
// from before the first Host line) is refused, with a [*WildcardError],
// unless a KnockAddress applies too: the secret would go to whatever the
// name typed resolves to. Host lines that name their hosts in full, as
// sshconfig.Line.Named tells, need none.
package stanza

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/sshconfig"
	"github.com/knockssh/knockssh/knocker"
)

// A Stanza is the knock configuration that applies to one host alias.
type Stanza struct {
	// Alias is the name the user typed, which the Host patterns matched.
	Alias string
	// Where is the KnockSequence line that applies, as "path:line"; ""
	// when none does.
	Where string
	// Address is KnockAddress: the address to knock on, "" for the
	// HostName ssh connects to.
	Address string
	// Config holds everything else; its Host is empty.
	Config knocker.Config
	// Share is KnockShare: how long the ssh wrapper keeps a shared
	// connection to the host open after its last command (ssh's
	// ControlPersist); 0 for DefaultShare, negative for no sharing.
	Share time.Duration
	// LateBanner is KnockEarlyBanner no: knockssh --proxy leaves ssh to
	// wait for the server's identification string through the knock, and
	// learns none.
	LateBanner bool
}

// DefaultShare is how long a shared connection outlives its last command
// when KnockShare does not say: a minute, as ansible keeps its own, covers
// a script's or a git pull-and-push's run of commands without leaving a
// forgotten connection open for long.
const DefaultShare = time.Minute

// A File is one config file Lookup reads.
type File struct {
	// Path is the file's name.
	Path string
	// SSH marks an ssh_config (the user's ~/.ssh/config, or ssh -F's
	// file): only its Knock* lines are read, and it never makes Lookup
	// fail, except for its permissions.
	SSH bool
	// Optional: a missing file is skipped silently.
	Optional bool
}

// Files returns the files Lookup reads: knockConfig (--config) alone when
// it is set, else [DefaultFiles](sshConfig).
func Files(knockConfig, sshConfig string) []File {
	if knockConfig != "" {
		return []File{{Path: knockConfig}}
	}
	return DefaultFiles(sshConfig)
}

// DefaultFiles returns the files read when --config is not given, in
// order: ~/.ssh/knock_config (optional), the user's ssh config (sshConfig
// when non-empty, the -F file, required to exist, and none when it is
// "none", as for ssh; else ~/.ssh/config, optional; both SSH=true), and
// /etc/ssh/knock_config (optional; not on windows).
func DefaultFiles(sshConfig string) []File {
	var files []File
	home, err := os.UserHomeDir()
	if err == nil {
		files = append(files, File{Path: filepath.Join(home, ".ssh", "knock_config"), Optional: true})
	}
	switch {
	case strings.EqualFold(sshConfig, "none"):
	case sshConfig != "":
		files = append(files, File{Path: sshConfig, SSH: true})
	case err == nil:
		files = append(files, File{Path: filepath.Join(home, ".ssh", "config"), SSH: true, Optional: true})
	}
	if runtime.GOOS != "windows" {
		files = append(files, File{Path: "/etc/ssh/knock_config", Optional: true})
	}
	return files
}

// Lookup reads files in order and returns the stanza for alias (first
// value of each keyword wins across all files, as ssh); found is false
// when no KnockSequence applies. warn, if not nil, receives non-fatal
// problems, such as a knock config readable by others or a bad Knock*
// line in an ssh config; each is sent once.
func Lookup(alias string, files []File, warn func(string)) (st Stanza, found bool, err error) {
	l := &lookup{
		warn:   warn,
		warned: map[string]bool{},
		st:     Stanza{Alias: alias, Config: knocker.Config{Retries: knocker.DefaultRetries}},
		from:   map[string]string{},
		infos:  map[string]fs.FileInfo{},
	}
	for _, f := range files {
		if err := l.file(alias, f); err != nil {
			return Stanza{Alias: alias}, false, err
		}
	}
	if err := l.checkSSHPerms(); err != nil {
		return Stanza{Alias: alias}, false, err
	}
	found = l.from["KnockSequence"] != ""
	if found && !l.seqNamed && l.from["KnockAddress"] == "" {
		return Stanza{Alias: alias}, false, &WildcardError{Where: l.st.Where, Alias: alias}
	}
	return l.st, found, nil
}

// A WildcardError is a KnockSequence for hosts that a wildcard names (or
// for every host) in a stanza without KnockAddress: the secret would go
// to whatever the name typed resolves to, a typo's or a forged DNS
// answer's address included.
type WildcardError struct {
	Where string // the KnockSequence line, path:line
	Alias string // the name typed
}

// Error names the line and says what is wrong.
func (e *WildcardError) Error() string {
	return fmt.Sprintf("%s: KnockSequence is for every host a wildcard matches, and no KnockAddress says where to knock: the secret would go to whatever %q resolves to", e.Where, e.Alias)
}

// Hint says how to fix it.
func (e *WildcardError) Hint() string {
	return "add KnockAddress with the server's address to the stanza, or name the host in full in its Host line (Host a b names two)"
}

// lookup is the state of one Lookup.
type lookup struct {
	warn   func(string)
	warned map[string]bool
	st     Stanza
	// from is the file each keyword's value came from; infos the
	// FileInfo of each ssh config read.
	from  map[string]string
	infos map[string]fs.FileInfo
	ssh   []string // the ssh configs that gave a value, in order
	// seqNamed: the KnockSequence comes from a block for hosts named in
	// full (sshconfig.Line.Named).
	seqNamed bool
	// matchWarned is the Match line of the last block warned about.
	matchWarned string
}

func (l *lookup) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.warn != nil && !l.warned[msg] {
		l.warned[msg] = true
		l.warn(msg)
	}
}

func (l *lookup) warnOnce(msg string) { l.warnf("%s", msg) }

// file reads one of Lookup's files, and those it includes.
func (l *lookup) file(alias string, f File) error {
	w := &sshconfig.Walker{Alias: alias}
	if f.SSH {
		if home := sshconfig.Home(); home != "" {
			w.IncludeDir = filepath.Join(home, ".ssh") // as ssh, for a user's config
		}
		// Checked later, when a value comes from the file.
		w.Check = func(path string, fi fs.FileInfo) error {
			l.infos[path] = fi
			return nil
		}
		w.Fault = func(err error) error {
			// ssh itself refuses a Host or Include line that does not
			// parse: it says so itself.
			if !errors.As(err, new(*sshconfig.LineError)) {
				l.warnf("%v; skipped", err)
			}
			return nil
		}
	} else {
		w.Check = l.checkSecret
	}
	return w.Walk(f.Path, f.Optional, func(line sshconfig.Line) error {
		err := l.line(line, f.SSH)
		if err != nil && f.SSH {
			l.warnf("%v; ignored", err)
			return nil
		}
		return err
	})
}

// line checks one keyword line and, when it applies and its keyword has
// no value yet, records the value.
func (l *lookup) line(line sshconfig.Line, ssh bool) error {
	lkey := strings.ToLower(line.Key)
	switch {
	case line.Match != 0 && !ssh:
		return fmt.Errorf("%s:%d: Match is not supported in a knock config (knockssh cannot evaluate it); use Host", line.Path, line.Match)
	case ssh && !strings.HasPrefix(lkey, "knock"):
		return nil
	case line.Match != 0:
		if !line.Active {
			return nil
		}
		if block := fmt.Sprintf("%s:%d", line.Path, line.Match); l.matchWarned != block {
			l.matchWarned = block
			l.warnf("%s: Knock* lines in a Match block (line %d) are ignored: knockssh cannot evaluate Match; put them in a Host block", line.Where(), line.Match)
		}
		return nil
	}
	kw := keywordNamed(lkey)
	if kw == nil {
		if plainWord(line.Key) && !strings.HasPrefix(lkey, "knocksequence") {
			return fmt.Errorf("%s: unknown keyword %q, want a Knock* keyword such as KnockSequence", line.Where(), line.Key)
		}
		// It may be a KnockSequence line with the space missing, or the
		// secret alone: say nothing of it.
		return fmt.Errorf("%s: unknown keyword (not shown, as it may hold the secret: is a space missing before a value?), want a Knock* keyword such as KnockSequence", line.Where())
	}
	next := l.st
	if err := kw.parse(&next, line.Value); err != nil {
		return fmt.Errorf("%s: %s: %w", line.Where(), kw.name, err)
	}
	if line.Active && l.from[kw.name] == "" {
		l.st = next
		l.from[kw.name] = line.Path
		if kw.name == "KnockSequence" {
			l.st.Where, l.seqNamed = line.Where(), line.Named
		}
		if ssh && !slices.Contains(l.ssh, line.Path) {
			l.ssh = append(l.ssh, line.Path)
		}
	}
	return nil
}

// checkSecret checks a file that holds secrets (sshconfig.CheckPerm),
// warning once per file.
func (l *lookup) checkSecret(path string, fi fs.FileInfo) error {
	return sshconfig.CheckPerm(path, fi, l.warnOnce)
}

// checkSSHPerms checks the ssh configs that supplied a value in use: each
// must be trusted (sshconfig.CheckTrust), and the one that supplied the
// KnockSequence kept from others (sshconfig.CheckPerm).
func (l *lookup) checkSSHPerms() error {
	for _, path := range l.ssh {
		check := sshconfig.CheckTrust
		if l.from["KnockSequence"] == path {
			check = l.checkSecret
		}
		if err := check(path, l.infos[path]); err != nil {
			return err
		}
	}
	return nil
}

// plainWord reports whether s is a word of ASCII letters, as every
// keyword is.
func plainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}
