package sshconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	// maxDepth is how deep Include may nest, as in ssh.
	maxDepth = 16
	// maxFiles bounds the files one walk reads, against Include loops
	// that fan out (Include * *) and so take long to reach maxDepth.
	maxFiles = 1024
)

// A Line is one keyword line of a config file, other than Host and
// Include, which the [Walker] follows itself.
type Line struct {
	Path string // the file
	Num  int    // its line number, from 1
	// Key is the keyword as written; Value the rest of the line after
	// the keyword and its separator, without trailing white space, quotes
	// and comments kept ([Words] splits it). Value is "" for a keyword
	// without a value, which ssh rejects.
	Key, Value string
	// Active reports whether the line applies to the alias: its Host
	// block matches, and so did the block of every Include that led to
	// its file.
	Active bool
	// Named reports whether the line applies only to hosts named in
	// full: the Host line of its block, or of a block with an Include
	// that led to its file, has no wildcard in its patterns (negated
	// ones aside, which only take names away). A line before any Host
	// line of the first file applies to every host.
	Named bool
	// Match is the line number of the Match line whose block holds this
	// line, 0 outside Match blocks. The Match line itself is handed over
	// too, with Match set to its own number. Only ssh can evaluate Match:
	// callers skip these lines, whose Active only says whether their file
	// is read for the alias.
	Match int
}

// Where returns "path:line".
func (l Line) Where() string { return fmt.Sprintf("%s:%d", l.Path, l.Num) }

// A LineError is a Host or Include line that does not parse.
type LineError struct {
	Where string // path:line
	Key   string // Host or Include
	Err   error
}

// Error names the line and what is wrong.
func (e *LineError) Error() string { return e.Where + ": " + e.Key + ": " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *LineError) Unwrap() error { return e.Err }

// A Walker reads config files as ssh does for one host alias: Host
// blocks, Include (globs, ~, nested up to 16 deep) and Match blocks,
// handing every other keyword line to a function.
type Walker struct {
	// Alias is the name Host patterns are matched against: the host as
	// typed on ssh's command line.
	Alias string
	// IncludeDir is where a relative Include path starts: ~/.ssh for a
	// user's ssh config, /etc/ssh for the system's. When "", it starts in
	// the directory of the including file.
	IncludeDir string
	// Check, when set, is called for every file read, before its lines
	// (a permission check, say); its error is a fault.
	Check func(path string, fi fs.FileInfo) error
	// Fault, when set, decides about a fault in the files: a bad Host or
	// Include line, a file that cannot be read or is refused by Check.
	// Returning nil passes over the fault (the line, or the file) and
	// goes on; when Fault is nil, every fault ends the walk.
	Fault func(err error) error

	nfiles int
}

// Walk reads path, and the files it includes, handing each keyword line
// to visit in the order ssh reads them; an error from visit ends the walk.
// A missing path is skipped when optional, an error otherwise. The null
// device (ssh -F /dev/null) holds nothing.
func (w *Walker) Walk(path string, optional bool, visit func(Line) error) error {
	if path == os.DevNull {
		return nil
	}
	err := w.file(path, true, false, 0, visit)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (w *Walker) fault(err error) error {
	if w.Fault == nil {
		return err
	}
	return w.Fault(err)
}

// file reads one file; active is false for a file included from a block
// that does not apply, named true for one included from a block for hosts
// named in full.
func (w *Walker) file(path string, active, named bool, depth int, visit func(Line) error) error {
	w.nfiles++
	data, fi, err := ReadFile(path)
	if err != nil {
		if depth == 0 && errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return w.fault(err)
	}
	if w.Check != nil {
		if err := w.Check(path, fi); err != nil {
			return w.fault(err)
		}
	}
	on, onNamed := active, named // before the first Host line
	match := 0
	for i, text := range strings.Split(string(data), "\n") {
		num := i + 1
		key, rest, ok := splitKeyword(text)
		if !ok {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, num)
		switch lkey := strings.ToLower(key); {
		case lkey == "host":
			match = 0
			patterns, err := Words(rest)
			matched := false
			if err == nil {
				matched, err = hostLine(patterns, w.Alias)
			}
			if err != nil {
				if err := w.fault(&LineError{where, "Host", err}); err != nil {
					return err
				}
			}
			on = active && matched
			onNamed = named || err == nil && namedPatterns(patterns)
			continue
		case lkey == "match":
			match = num
		case match == 0 && lkey == "include":
			if err := w.include(rest, where, path, on, onNamed, depth, visit); err != nil {
				return err
			}
			continue
		}
		l := Line{Path: path, Num: num, Key: key, Value: rest, Active: on, Named: onNamed, Match: match}
		if match != 0 {
			l.Active, l.Named = active, named
		}
		if err := visit(l); err != nil {
			return err
		}
	}
	return nil
}

// hostLine matches the patterns of a Host line against alias as
// readconf.c does: in order, a negated match ends the line (what follows
// is not even checked), and an empty pattern before that is an error.
func hostLine(patterns []string, alias string) (match bool, err error) {
	if len(patterns) == 0 {
		return false, errors.New("want one or more patterns")
	}
	for _, p := range patterns {
		if p == "" {
			return false, errors.New("empty pattern")
		}
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if matchPattern(alias, neg) {
				return false, nil
			}
		} else if matchPattern(alias, p) {
			match = true
		}
	}
	return match, nil
}

// namedPatterns reports whether the patterns of a Host line match only
// names they spell out: one or more patterns without negation, none of
// them with a wildcard.
func namedPatterns(patterns []string) bool {
	positive := false
	for _, p := range patterns {
		if strings.HasPrefix(p, "!") {
			continue
		}
		if strings.ContainsAny(p, "*?") {
			return false
		}
		positive = true
	}
	return positive
}

// include reads the files of an Include line (rest, at where in file
// from).
func (w *Walker) include(rest, where, from string, active, named bool, depth int, visit func(Line) error) error {
	args, err := Words(rest)
	if err == nil && len(args) == 0 {
		err = errors.New("want one or more paths")
	}
	if err != nil {
		return w.fault(&LineError{where, "Include", err})
	}
	if depth+1 > maxDepth {
		return w.fault(fmt.Errorf("%s: Include nested too deep", where))
	}
	for _, arg := range args {
		pattern, err := ExpandTilde(arg)
		if err == nil && !filepath.IsAbs(pattern) {
			dir := w.IncludeDir
			if dir == "" {
				dir = filepath.Dir(from)
			}
			pattern = filepath.Join(dir, pattern)
		}
		if err != nil {
			if err := w.fault(fmt.Errorf("%s: Include: %w", where, err)); err != nil {
				return err
			}
			continue
		}
		paths, err := filepath.Glob(pattern)
		if err != nil {
			if err := w.fault(fmt.Errorf("%s: Include: bad pattern %q", where, arg)); err != nil {
				return err
			}
			continue
		}
		for _, p := range paths {
			if w.nfiles >= maxFiles {
				return w.fault(fmt.Errorf("%s: Include: more than %d files to read; is there an Include loop?", where, maxFiles))
			}
			if err := w.file(p, active, named, depth+1, visit); err != nil {
				return err
			}
		}
	}
	return nil
}
