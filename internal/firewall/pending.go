package firewall

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The lockout guard (knockssh --install --revert-after): an install that
// reverts itself at a deadline unless confirmed from a session that came in
// through the knock, as iptables-apply does. A Pending is what the
// reverter and --confirm need of such an install; it lives in a file of
// the run directory, one per tag.

// A Pending is an install that reverts itself at Deadline unless
// confirmed: the tables it changed as they were before it, for undoing the
// listener's part of them, and its accept rules' packet counts just after
// it, to tell whether a connection has come in through the knock since. It
// encodes the sequence (the rules' hitcounts): its file is root's, mode
// 0600.
type Pending struct {
	// Tag is the listener's tag as given ("" means INPUT).
	Tag string
	// ID is random: it tells this install from a later one of the tag.
	ID string
	// Deadline is when the reverter reverts.
	Deadline time.Time
	// PID is the reverter's process, 0 until it runs.
	PID int
	// PersistArgv and PersistConfig are what --install --persist writes
	// once the install is confirmed: the boot hook's command and the
	// config it reads (a knock stanza with the sequence); nil and "" for
	// an install that did not ask to persist.
	PersistArgv   []string
	PersistConfig string

	families []pendingFamily
}

// pendingFamily is one family of a Pending.
type pendingFamily struct {
	family int
	// conntrack is set when the install inserted the conntrack rule.
	conntrack bool
	// before holds the tables the install changed, as they were; none
	// for a family it left as it was.
	before map[string]*savedTable
	// accepted is the packet count of the listener's accept rules just
	// after the install.
	accepted uint64
}

// NewPending returns the Pending of changes, which Apply has just carried
// out, with a new random ID: the tables as they were. It has no Deadline
// yet, and the accept rules' counts are Count's.
func (in *Installer) NewPending(changes []Change) *Pending {
	id := make([]byte, 16)
	rand.Read(id) // never fails
	p := &Pending{Tag: in.Spec.Tag, ID: hex.EncodeToString(id)}
	for _, c := range changes {
		p.families = append(p.families, pendingFamily{family: c.Family, conntrack: c.conntrack, before: c.before})
	}
	return p
}

// Count records the packet counts of the listener's accept rules as they
// are now, just after the install, in every family of p. r runs the
// iptables tools; nil runs them from $PATH.
func (p *Pending) Count(ctx context.Context, r Runner) error {
	for i, f := range p.families {
		n, err := p.acceptedNow(ctx, r, f.family)
		if err != nil {
			return err
		}
		p.families[i].accepted = n
	}
	return nil
}

// acceptedNow returns the packet count of the listener's accept rules (in
// its check chain, the rules that jump to ACCEPT) in family's firewall.
func (p *Pending) acceptedNow(ctx context.Context, r Runner, family int) (uint64, error) {
	in := Installer{Spec: Spec{Tag: p.Tag}, Runner: r}
	tables, err := in.save(ctx, family)
	if err != nil {
		return 0, err
	}
	t := orEmpty(tables["filter"])
	check, _ := in.Spec.Chains()
	var n uint64
	for _, rule := range t.chainRules(check) {
		if strings.HasSuffix(normalize(rule.args), "-j ACCEPT") {
			n += rule.packets
		}
	}
	return n, nil
}

// Knocked reports whether the listener's accept rules have counted a
// packet since the install in some family: a connection came in through
// the knock. r runs the iptables tools; nil runs them from $PATH.
func (p *Pending) Knocked(ctx context.Context, r Runner) (bool, error) {
	for _, f := range p.families {
		n, err := p.acceptedNow(ctx, r, f.family)
		if err != nil {
			return false, err
		}
		if n > f.accepted {
			return true, nil
		}
	}
	return false, nil
}

// Revert undoes the install as Apply's rollback does: the listener's part
// of the tables it changed goes back to what it was (the conntrack rule it
// inserted goes too); rules others added or changed meanwhile stay. r runs
// the iptables tools; nil runs them from $PATH.
func (p *Pending) Revert(ctx context.Context, r Runner) error {
	in := Installer{Spec: Spec{Tag: p.Tag}, Runner: r}
	var cs []Change
	for _, f := range p.families {
		cs = append(cs, Change{Family: f.family, before: f.before, conntrack: f.conntrack})
	}
	return in.rollback(ctx, cs)
}

// Families returns the address families the install changed.
func (p *Pending) Families() []int {
	var fs []int
	for _, f := range p.families {
		if len(f.before) > 0 {
			fs = append(fs, f.family)
		}
	}
	return fs
}

// PendingFile returns the file of tag's pending install in the run
// directory dir: pending-TAG.
func PendingFile(dir, tag string) string {
	return filepath.Join(dir, "pending-"+(Spec{Tag: tag}).tag())
}

// pendingVersion is the file format's version.
const pendingVersion = 1

// pendingJSON is a Pending's file.
type pendingJSON struct {
	Version       int                 `json:"version"`
	Tag           string              `json:"tag"`
	ID            string              `json:"id"`
	Deadline      time.Time           `json:"deadline"`
	PID           int                 `json:"pid"`
	PersistArgv   []string            `json:"persist_argv,omitempty"`
	PersistConfig string              `json:"persist_config,omitempty"`
	Families      []pendingFamilyJSON `json:"families"`
}

type pendingFamilyJSON struct {
	Family    int    `json:"family"`
	Conntrack bool   `json:"conntrack"`
	Accepted  uint64 `json:"accepted"`
	// Before is the tables changed as iptables-save prints them, without
	// counters.
	Before string `json:"before"`
}

// Marshal returns p as its file holds it.
func (p *Pending) Marshal() []byte {
	j := pendingJSON{Version: pendingVersion, Tag: p.Tag, ID: p.ID, Deadline: p.Deadline, PID: p.PID, PersistArgv: p.PersistArgv, PersistConfig: p.PersistConfig}
	for _, f := range p.families {
		j.Families = append(j.Families, pendingFamilyJSON{Family: f.family, Conntrack: f.conntrack, Accepted: f.accepted, Before: formatSave(f.before)})
	}
	data, err := json.MarshalIndent(j, "", "\t")
	if err != nil {
		panic(err) // strings, numbers and a time: always marshals
	}
	return append(data, '\n')
}

// ParsePending parses a Pending's file. Its errors never quote the file.
func ParsePending(data []byte) (*Pending, error) {
	var j pendingJSON
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return nil, errors.New("not a pending install's file: empty")
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("not a pending install's file: bad JSON at byte %d", syntax.Offset)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("not a pending install's file: field %q is not a %s", typ.Field, typ.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return nil, errors.New("not a pending install's file: a field this version of knockssh does not know")
		}
		return nil, errors.New("not a pending install's file: bad JSON")
	}
	if d.More() {
		return nil, errors.New("not a pending install's file: more after the JSON")
	}
	if j.Version != pendingVersion {
		return nil, fmt.Errorf("version %d, want %d", j.Version, pendingVersion)
	}
	if err := checkTag(j.Tag); err != nil {
		return nil, err
	}
	if id, err := hex.DecodeString(j.ID); err != nil || len(id) != 16 {
		return nil, errors.New("the install id is not 32 hex digits")
	}
	if j.Deadline.IsZero() {
		return nil, errors.New("no deadline, want the time the reverter reverts")
	}
	if j.PID < 0 {
		return nil, fmt.Errorf("pid %d, want the reverter's process id (0 before it runs)", j.PID)
	}
	if (len(j.PersistArgv) == 0) != (j.PersistConfig == "") {
		return nil, errors.New("persist_argv and persist_config go together: want both or neither")
	}
	if len(j.Families) == 0 {
		return nil, errors.New("no families, want 4, 6 or both")
	}
	p := &Pending{Tag: j.Tag, ID: j.ID, Deadline: j.Deadline, PID: j.PID, PersistArgv: j.PersistArgv, PersistConfig: j.PersistConfig}
	for i, f := range j.Families {
		if f.Family != 4 && f.Family != 6 || slices.ContainsFunc(p.families, func(g pendingFamily) bool { return g.family == f.Family }) {
			return nil, fmt.Errorf("family #%d: want 4 or 6, each once", i+1)
		}
		before, err := parseSave([]byte(f.Before))
		if le := (*saveLineError)(nil); errors.As(err, &le) {
			return nil, fmt.Errorf("family %d: \"before\" line %d: %s, want iptables-save's output", f.Family, le.line, le.what)
		} else if err != nil {
			return nil, fmt.Errorf("family %d: \"before\": %w", f.Family, err)
		}
		for table := range before {
			if !slices.Contains(tableOrder, table) {
				return nil, fmt.Errorf("family %d: table %.20q is none a listener uses", f.Family, table)
			}
		}
		p.families = append(p.families, pendingFamily{family: f.Family, conntrack: f.Conntrack, accepted: f.Accepted, before: before})
	}
	return p, nil
}

// formatSave returns tables as iptables-save prints them, without
// counters, in the order of tableOrder: what parseSave reads back.
func formatSave(tables map[string]*savedTable) string {
	var b strings.Builder
	for _, name := range tableOrder {
		t, ok := tables[name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "*%s\n", name)
		for _, ch := range t.chains {
			fmt.Fprintf(&b, ":%s %s [0:0]\n", ch, t.policy[ch])
		}
		for _, r := range t.rules {
			b.WriteString(r.line + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// MakeRunDir creates the run directory dir (mode 0700) if it is missing
// and checks that it is a directory of this user's (root's) that no one
// else may enter.
func MakeRunDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return trusted(dir, fi)
}

// trusted checks that fi, of path, belongs to the user running knockssh
// (root) and that no one else may read, write or enter it.
func trusted(path string, fi fs.FileInfo) error {
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("%s belongs to uid %d, not to uid %d (root)", path, uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: others may get at it, want 0600 (0700 for the directory)", path, perm)
	}
	return nil
}

// WritePending writes p to path, replacing what is there only once
// complete (a temporary file in the same directory, mode 0600, renamed).
func WritePending(path string, p *Pending) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".pending-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(p.Marshal())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// ReadPending reads the pending install at path. It refuses a file that is
// not a regular file of this user's (root's) that no one else may read: the
// file encodes the sequence. A missing file's error satisfies
// errors.Is(err, fs.ErrNotExist).
func ReadPending(path string) (*Pending, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if err := trusted(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if now, err := f.Stat(); err != nil || !os.SameFile(fi, now) {
		return nil, fmt.Errorf("%s changed while being opened", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, err
	}
	p, err := ParsePending(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
