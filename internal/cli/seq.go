package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/sshargv"
	"github.com/knockssh/knockssh/internal/stanza"
	"github.com/knockssh/knockssh/knocker"
)

// --new-sequence and --init: a random secret, and a stanza for it.

// newSequenceBursts is the length of a new sequence by default: the
// shortest that meets knockssh's goal against brute force at the default
// fail limit (5 fails a day per source), with xt_recent's ip_list_tot at
// least the number of sources: at least a year on average against 100
// sources (7 bursts: 13 years) and a month against 10,000 (48 days; 6
// bursts give 5 days). firewall.Spec.BruteForce computes the figures.
const newSequenceBursts = 7

// maxSequenceSum is the largest sum of a sequence whose rules every
// kernel loads: the cleanup rule's --hitcount 2·SUM+1 stays within 255.
const maxSequenceSum = 127

// newSequence returns a random sequence of n bursts read from r: each
// digit uniform in 1-9 (a byte is rejected unless below 252, a multiple of
// 9), the whole sequence drawn again while its sum exceeds maxSequenceSum.
func newSequence(r io.Reader, n int) (knocker.Sequence, error) {
	if n < 1 || n > knocker.MaxBursts {
		return nil, fmt.Errorf("--bursts %d: want 1 to %d", n, knocker.MaxBursts)
	}
	var b [1]byte
	for tries := 0; tries < 1000; tries++ {
		seq := make(knocker.Sequence, 0, n)
		for len(seq) < n {
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, fmt.Errorf("reading random bytes: %w", err)
			}
			if b[0] < 252 {
				seq = append(seq, 1+int(b[0])%9)
			}
		}
		if seq.Sum() <= maxSequenceSum {
			return seq, nil
		}
	}
	return nil, errors.New("no sequence within the kernel's limits after 1000 draws")
}

func runNewSequence(_ context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	if fs.NArg() != 0 {
		fmt.Fprintln(s.err, "knockssh: --new-sequence takes no argument")
		return exitUsage
	}
	seq, err := newSequence(rand.Reader, o.bursts)
	if err != nil {
		printErr(s.err, err)
		return exitUsage
	}
	out, commit, _, err := secretOutput(o, s)
	if err != nil {
		printErr(s.err, err)
		return exitFail
	}
	fmt.Fprintln(out, seq.Digits())
	if err := commit(); err != nil {
		printErr(s.err, err)
		return exitFail
	}
	return exitOK
}

// burstsReason says what the sequence's length gives against brute force
// with spec's rules, and why it is the default when chosen says it is.
func burstsReason(spec firewall.Spec, chosen bool) string {
	why := ""
	if !chosen {
		why = fmt.Sprintf(" (the default, %d, is the shortest that takes a month against 10,000)", newSequenceBursts)
	}
	return fmt.Sprintf("%d bursts%s: brute force takes %s on average from 100 sources, %s from 10,000 (with xt_recent's ip_list_tot at least that; see the rules' comments)",
		len(spec.Sequence), why, firewall.FormatSpan(spec.BruteForce(100, 100)), firewall.FormatSpan(spec.BruteForce(10000, 10000)))
}

// knockConfigPath is the file --init writes: --config, else
// ~/.ssh/knock_config.
func knockConfigPath(o *options) (string, error) {
	if o.config != "" {
		return o.config, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding ~/.ssh: %w", err)
	}
	return filepath.Join(home, ".ssh", "knock_config"), nil
}

// checkDestination accepts a destination that can stand alone as a Host
// pattern: no white space, quotes, wildcards, negation or comment.
func checkDestination(d string) error {
	if d == "" || strings.HasPrefix(d, "-") || strings.ContainsAny(d, " \t\r\n\"'#*?!,=\\") {
		return fmt.Errorf("DESTINATION %q is not a plain host name or alias", d)
	}
	// Host patterns match the name ssh takes from the destination: with a
	// user@ or an ssh:// URI the stanza would never apply.
	if inv, err := sshargv.ScanArgs([]string{d}); err != nil || inv.Alias != d {
		return fmt.Errorf("DESTINATION %q is not a plain host name or alias: give the host alone (no user@, ssh:// or :port)", d)
	}
	return nil
}

func runInit(_ context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	if fs.NArg() != 1 {
		fmt.Fprintln(s.err, "knockssh: --init takes exactly one DESTINATION")
		return exitUsage
	}
	dest := fs.Arg(0)
	if err := initStanza(o, fs, dest, s); err != nil {
		printErr(s.err, fmt.Errorf("--init: %w", err))
		return exitFail
	}
	return exitOK
}

func initStanza(o *options, fs *pflag.FlagSet, dest string, s stdio) error {
	if err := checkDestination(dest); err != nil {
		return err
	}
	if fs.Changed("sequence") {
		return errors.New("--init makes a new random sequence: drop --sequence")
	}
	path, err := knockConfigPath(o)
	if err != nil {
		return err
	}
	window := knocker.DefaultWindow
	if fs.Changed("window") {
		if window, err = parseWindow(o.window); err != nil {
			return fmt.Errorf("--window: %w", err)
		}
	}
	if err := knocker.CheckWindow(window); err != nil {
		return fmt.Errorf("--window: %w", err)
	}
	proto := knocker.UDP
	if fs.Changed("protocol") {
		if proto, err = knocker.ParseProtocol(o.protocol); err != nil {
			return fmt.Errorf("--protocol: %w", err)
		}
	}
	old, found, err := stanza.Lookup(dest, []stanza.File{{Path: path, Optional: true}}, warner(s.err))
	if err != nil {
		return err
	}
	if found {
		return fmt.Errorf("a stanza in %s already applies to %s (the first value wins, so a new one would not): edit that file", path, dest)
	}
	seq, err := newSequence(rand.Reader, o.bursts)
	if err != nil {
		return err
	}
	spec := firewall.Spec{Sequence: seq, Window: int(window / time.Second), KnockPort: o.port, SecurePort: o.port, Tag: o.tag}
	if fs.Changed("secure-port") {
		spec.SecurePort = o.securePort
	}
	if err := failLimit(o, fs, &spec); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	// Earlier lines (a "Host *" block, say) that already set a value for
	// dest win over the appended stanza: the client would then knock
	// otherwise than the rules printed here expect.
	var clash []string
	if c := old.Config; c.Port != 0 && c.Port != spec.KnockPort {
		clash = append(clash, "KnockPort")
	}
	if c := old.Config; c.Window != 0 && c.Window != window {
		clash = append(clash, "KnockWindow")
	}
	if c := old.Config; c.Protocol != 0 && c.Protocol != proto {
		clash = append(clash, "KnockProtocol")
	}
	if len(clash) > 0 {
		return fmt.Errorf("earlier lines in %s already set %s for %s, and the first value wins: give the same values with --port, --window, --protocol, or edit that file", path, strings.Join(clash, ", "), dest)
	}
	stanza := fmt.Sprintf("Host %s\n    KnockSequence %s\n    KnockPort %d\n    KnockWindow %d\n", dest, seq.Digits(), spec.KnockPort, spec.Window)
	if proto != knocker.UDP {
		stanza += "    KnockProtocol " + proto.String() + "\n"
	}
	// The rules first, to --output's temporary file, so that a file that
	// cannot be written leaves the knock config as it was.
	out, commit, abort, err := secretOutput(o, s)
	if err != nil {
		return err
	}
	where := "on stdout"
	if o.output != "" {
		where = "in " + o.output
		fmt.Fprintf(out, "# The server rules for %s's new knock stanza, as \"knockssh --rules %s\" prints them.\n", dest, dest)
		fmt.Fprintf(out, "# Load them as root with iptables-restore --noflush (and ip6tables-restore --noflush),\n# or copy the stanza to the server and run \"knockssh --install %s\" there.\n", dest)
		fmt.Fprint(out, spec.Restore(firewall.RestoreOptions{Families: []int{4, 6}, Conntrack: true}))
	}
	if err := appendStanza(path, stanza); err != nil {
		abort()
		return err
	}
	if err := commit(); err != nil {
		return fmt.Errorf("added the stanza for %s to %s, but %w", dest, path, err)
	}
	fmt.Fprintf(s.err, "knockssh: added a stanza for %s to %s (%d bursts, knock port %d, window %ds); the server's rules are %s: keep them secret too\n",
		dest, path, len(seq), spec.KnockPort, spec.Window, where)
	fmt.Fprintf(s.err, "knockssh: %s\n", burstsReason(spec, fs.Changed("bursts")))
	if o.output == "" {
		fmt.Fprintf(out, "# The server rules for %s's new knock stanza, as \"knockssh --rules %s\" prints them.\n", dest, dest)
		fmt.Fprintf(out, "# Load them as root with iptables-restore --noflush (and ip6tables-restore --noflush),\n# or copy the stanza to the server and run \"knockssh --install %s\" there.\n", dest)
		fmt.Fprint(out, spec.Restore(firewall.RestoreOptions{Families: []int{4, 6}, Conntrack: true}))
	}
	return nil
}

// appendStanza appends stanza to the knock config at path, creating it
// (and its directory) private to the user. The stanza goes in with one
// write, after a newline if the file does not end with one.
func appendStanza(path, stanza string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(fi.Mode().Perm() & 0o700); err != nil {
			return fmt.Errorf("making %s private: %w", path, err)
		}
	}
	var prefix []byte
	if fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
			return err
		}
		if !bytes.Equal(last, []byte("\n")) {
			prefix = []byte("\n")
		}
		prefix = append(prefix, '\n')
	}
	if _, err := f.Write(append(prefix, stanza...)); err != nil {
		f.Truncate(fi.Size()) // no half stanza
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
