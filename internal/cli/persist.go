package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/internal/sshconfig"
)

// --persist: the listener installed again at boot by a hook the
// distribution offers (firewall.Boot finds it and renders it), running the
// same install with the sequence in a config of root's only. The hook and
// the boot command's words hold everything but the sequence.

// persistRootEnv names a directory below which --persist looks and writes
// instead of /: for tests only, so that they never touch the machine's
// /etc and /usr/share. It holds a path, never a secret.
const persistRootEnv = "KNOCKSSH_PERSIST_ROOT"

// A persistence is what --persist writes, or removes, for one listener.
type persistence struct {
	boot firewall.Boot
	// hook and config are written by write: the boot hook and the
	// config's text, a knock stanza with the sequence (the secret).
	hook   firewall.Hook
	config string
	// argv is the boot command the hook runs.
	argv []string
	// systemctl runs systemctl with args (enable, disable).
	systemctl func(ctx context.Context, args ...string) error
}

// newPersistence returns the persistence of the listener of tag, its
// paths below $KNOCKSSH_PERSIST_ROOT when that is set.
func newPersistence(tag string) *persistence {
	root := os.Getenv(persistRootEnv)
	return &persistence{boot: firewall.Boot{Root: root, Tag: tag}, systemctl: systemctlRunner(root)}
}

// planPersist works out what --install --persist writes for in, writing
// nothing: the install calls it before changing the firewall, so that a
// machine without a boot hook refuses with nothing installed.
func planPersist(in firewall.Installer) (*persistence, error) {
	p := newPersistence(in.Spec.Tag)
	kind, err := p.boot.Detect()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding knockssh's own path for the boot hook: %w", err)
	}
	if err := trustedProgram(self); err != nil {
		return nil, err
	}
	p.argv = bootArgs(self, p.boot, in)
	if p.hook, err = p.boot.Hook(kind, p.argv); err != nil {
		return nil, err
	}
	p.config = bootConfig(p.boot, in.Spec)
	return p, nil
}

// trustedProgram refuses to have the boot run self, as root, unless only
// root may change it: the file where its symlinks lead and every directory
// above it (as sshconfig.CheckTrust judges for root; a sticky directory
// counts as root's). A knockssh in a user's ~/go/bin would give that user
// root at the next boot.
func trustedProgram(self string) error {
	fi, err := os.Stat(self)
	if err == nil {
		err = sshconfig.CheckTrust(self, fi)
	}
	var pe *sshconfig.PermError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &pe):
		return fmt.Errorf("checking the program for the boot hook: %w", err)
	case pe.Dir != "" && pe.Owner != "":
		err = fmt.Errorf("its directory %s is owned by %s", pe.Dir, pe.Owner)
	case pe.Dir != "":
		err = fmt.Errorf("its directory %s is writable by others (mode %04o)", pe.Dir, pe.Mode)
	case pe.Owner != "":
		err = fmt.Errorf("it is owned by %s", pe.Owner)
	default:
		err = fmt.Errorf("it is writable by others (mode %04o)", pe.Mode)
	}
	return &hintError{
		err:  fmt.Errorf("the boot hook would run %s as root, but %w: whoever may change it would run as root at the next boot", self, err),
		hint: "install knockssh where only root may change it, such as /usr/local/bin (the package installs /usr/bin/knockssh), and run that one",
	}
}

// checkPersisted refuses an install or uninstall without --persist of a
// listener that has a boot hook: the boot would install the rules of the
// hook's config again, the old sequence after a change, or the listener
// after an uninstall. The boot's own install (its config is the hook's) is
// not refused.
func checkPersisted(o *options, tag string, remove bool) error {
	if o.persist {
		return nil
	}
	p := newPersistence(tag)
	if o.config != "" && filepath.Clean(o.config) == p.boot.ConfigPath() {
		return nil
	}
	for _, h := range p.boot.Hooks() {
		if _, err := os.Lstat(h.Path); err != nil {
			continue
		}
		listener := (firewall.Spec{Tag: tag}).Listener()
		if remove {
			return &hintError{
				err:  fmt.Errorf("listener %s is persisted (%s): without --persist, the next boot would install it again", listener, h.Path),
				hint: "add --persist to remove its boot hook and config too",
			}
		}
		return &hintError{
			err:  fmt.Errorf("listener %s is persisted (%s): without --persist, the next boot would install the rules of %s again, not these", listener, h.Path, p.boot.ConfigPath()),
			hint: "add --persist to write its boot hook and config for these rules too",
		}
	}
	return nil
}

// unpersist removes the listener of tag's boot hooks and config, or with
// dryRun says what it would remove.
func unpersist(ctx context.Context, s stdio, tag string, dryRun bool) error {
	return newPersistence(tag).remove(ctx, s.out, dryRun)
}

// bootArgs returns the boot command for in: knockssh (self) --install with
// the config for the sequence and every option that shaped the rules as
// flags, so that it installs exactly the rules installed now. None of its
// words holds the sequence.
func bootArgs(self string, b firewall.Boot, in firewall.Installer) []string {
	s := in.Spec
	args := []string{self, "--install", "--config", b.ConfigPath(),
		"--port", strconv.Itoa(s.KnockPort), "--secure-port", strconv.Itoa(s.SecurePort),
		"--window", strconv.Itoa(s.Window)}
	if s.Tag != "" {
		args = append(args, "--tag", s.Tag)
	}
	if s.DNAT {
		args = append(args, "--dnat")
	}
	if s.Seed {
		args = append(args, "--seed-rules")
	} else {
		l, p, prefix6 := s.FailLimits()
		args = append(args, "--fail-limit", strconv.Itoa(l), "--fail-period", (time.Duration(p) * time.Second).String(), "--fail-prefix6", strconv.Itoa(prefix6))
	}
	if in.Interface != "" {
		args = append(args, "--interface", in.Interface)
	}
	family := "both"
	if len(in.Families) == 1 {
		family = strconv.Itoa(in.Families[0])
	}
	return append(args, "--family", family, b.Alias())
}

// bootConfig returns the config the boot command reads: a knock stanza
// with the sequence only (every other value is a flag of the command).
func bootConfig(b firewall.Boot, s firewall.Spec) string {
	return fmt.Sprintf("# The knock sequence of knockssh's listener %s, for its boot hook\n# (knockssh --install --persist). Secret: root's only, mode 0600.\nHost %s\n    KnockSequence %s\n",
		s.Listener(), b.Alias(), s.Sequence.Digits())
}

// describe says what write would do, without the sequence; guarded, that
// it would do it once the install is confirmed.
func (p *persistence) describe(w io.Writer, guarded bool) {
	when := ""
	if guarded {
		when = " once the install is confirmed"
	}
	fmt.Fprintf(w, "# boot: would write%s %s (mode 0600, in %s of mode 0700): a knock stanza with the sequence\n", when, p.boot.ConfigPath(), p.boot.ConfigDir())
	what := "a netfilter-persistent plugin, whose start runs"
	if p.hook.Kind == firewall.Systemd {
		what = "a systemd unit, which runs"
	}
	fmt.Fprintf(w, "# boot: would write%s %s (mode %04o): %s\n", when, p.hook.Path, p.hook.Mode, what)
	fmt.Fprintf(w, "#   %s\n", strings.Join(p.argv, " "))
	if p.hook.Unit != "" {
		fmt.Fprintf(w, "# boot: would run%s systemctl enable %s\n", when, p.hook.Unit)
	}
}

// write writes the config, then the hook, and enables a unit; when a step
// fails it puts back what it had replaced, so that the files are as they
// were.
func (p *persistence) write(ctx context.Context, w io.Writer) (err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	dir := p.boot.ConfigDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if fi, err := os.Lstat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	u, err := replaceFile(p.boot.ConfigPath(), []byte(p.config), 0o600)
	if err != nil {
		return err
	}
	undo = append(undo, u)
	if err := os.MkdirAll(filepath.Dir(p.hook.Path), 0o755); err != nil {
		return err
	}
	if u, err = replaceFile(p.hook.Path, []byte(p.hook.Text), p.hook.Mode); err != nil {
		return err
	}
	undo = append(undo, u)
	if p.hook.Unit != "" {
		if err := p.systemctl(ctx, "enable", p.hook.Unit); err != nil {
			return err
		}
		fmt.Fprintf(w, "boot: systemd runs %s (%s, enabled), which installs the listener again; its sequence is in %s (mode 0600)\n", p.hook.Unit, p.hook.Path, p.boot.ConfigPath())
		return nil
	}
	fmt.Fprintf(w, "boot: netfilter-persistent runs %s at start, which installs the listener again; its sequence is in %s (mode 0600)\n", p.hook.Path, p.boot.ConfigPath())
	return nil
}

// remove disables and removes the hooks there are, then the config, or
// with dryRun says what it would do.
func (p *persistence) remove(ctx context.Context, w io.Writer, dryRun bool) error {
	would, prefix := "", ""
	if dryRun {
		would, prefix = "would ", "# "
	}
	var errs []error
	n := 0
	for _, h := range p.boot.Hooks() {
		if _, err := os.Lstat(h.Path); err != nil {
			continue
		}
		n++
		if h.Unit != "" {
			if dryRun {
				fmt.Fprintf(w, "# boot: would run systemctl disable %s\n", h.Unit)
			} else if err := p.systemctl(ctx, "disable", h.Unit); err != nil {
				errs = append(errs, err)
			}
		}
		if !dryRun {
			if err := os.Remove(h.Path); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		fmt.Fprintf(w, "%sboot: %sremove %s\n", prefix, would, h.Path)
	}
	if _, err := os.Lstat(p.boot.ConfigPath()); err == nil {
		n++
		if !dryRun {
			if err := os.Remove(p.boot.ConfigPath()); err != nil {
				errs = append(errs, err)
			} else {
				os.Remove(p.boot.ConfigDir()) // when it was the last one
			}
		}
		fmt.Fprintf(w, "%sboot: %sremove %s\n", prefix, would, p.boot.ConfigPath())
	}
	if n == 0 {
		fmt.Fprintf(w, "%sboot: no hook and no config to remove\n", prefix)
	}
	return errors.Join(errs...)
}

// replaceFile replaces path with data of mode perm, atomically: written
// under a temporary name in its directory (created with mode 0600), synced
// and renamed into place, the directory synced. undo puts back what was
// there, or removes the file.
func replaceFile(path string, data []byte, perm fs.FileMode) (undo func(), err error) {
	old, oldErr := os.ReadFile(path)
	oldMode := perm
	if fi, err := os.Stat(path); err == nil {
		oldMode = fi.Mode().Perm() & perm // never more open than the new file
	}
	if err := writeAtomic(path, data, perm); err != nil {
		return nil, err
	}
	return func() {
		if oldErr == nil {
			writeAtomic(path, old, oldMode)
		} else {
			os.Remove(path)
		}
	}, nil
}

func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the rename, across a reboot
		d.Close()
	}
	return nil
}

// systemctlRunner returns a function that runs systemctl, with
// --root=root when root is set (systemctl then changes only the unit
// files below it); its errors carry systemctl's stderr.
func systemctlRunner(root string) func(ctx context.Context, args ...string) error {
	return func(ctx context.Context, args ...string) error {
		if root != "" {
			args = append([]string{"--root=" + root}, args...)
		}
		cmd := exec.CommandContext(ctx, "systemctl", args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n") // one line
			return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, first)
		}
		return nil
	}
}
