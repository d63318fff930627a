package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The modes whose output encodes the sequence (--rules, --init,
// --new-sequence) write it where secretOutput says: the --output file,
// created with mode 0600 under a temporary name in the file's directory
// and renamed into place only once complete, so no other user ever sees
// its contents and a failure leaves no half-written file; or standard
// output, with a warning when that is a file others may read (as
// "knockssh --rules > rules.txt" makes one under umask 022).

// secretOutput returns the writer for a secret output and the function
// that completes it (renames the --output file into place; nothing for
// standard output), or abort, which removes the temporary file.
func secretOutput(o *options, s stdio) (w io.Writer, commit func() error, abort func(), err error) {
	if o.output == "" {
		if f, ok := s.out.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
				fmt.Fprintf(s.err, "knockssh: warning: standard output is a file others may read (mode %04o) and this output encodes the knock sequence\n", st.Mode().Perm())
				fmt.Fprintf(s.err, "knockssh: hint: chmod 600 it, or write it with --output FILE, which is created with mode 0600\n")
			}
		}
		return s.out, func() error { return nil }, func() {}, nil
	}
	dir := filepath.Dir(o.output)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(o.output)+".tmp-*") // mode 0600
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--output: %w", err)
	}
	abort = func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	commit = func() error {
		err := tmp.Sync()
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), o.output)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("--output: %w", err)
		}
		return nil
	}
	return tmp, commit, abort, nil
}
