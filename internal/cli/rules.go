package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/knocker"
	"github.com/spf13/pflag"
)

// The server-side modes: --rules prints the listener, --install and
// --uninstall load and remove it. The work is in package firewall.

// serverSpec builds the listener from DESTINATION's stanza, if given, and
// the flags on top. Its errors never contain the sequence.
func serverSpec(o *options, fs *pflag.FlagSet, stderr io.Writer, needSequence bool) (firewall.Spec, error) {
	var spec firewall.Spec
	if fs.NArg() > 1 {
		return spec, errors.New("at most one DESTINATION")
	}
	var cfg knocker.Config
	found := false
	if fs.NArg() == 1 {
		inv, st, ok, err := o.stanza(fs.Arg(0), stderr)
		if err != nil {
			return spec, err
		}
		if !ok {
			return spec, fmt.Errorf("no knock stanza applies to %s", inv.Alias)
		}
		cfg, found = st.Config, true
	}
	set := fs.Changed
	spec.KnockPort = cfg.Port
	if set("port") || spec.KnockPort == 0 {
		spec.KnockPort = o.port
	}
	spec.SecurePort = spec.KnockPort
	if set("secure-port") {
		spec.SecurePort = o.securePort
	}
	window := cfg.Window
	if set("window") {
		w, err := parseWindow(o.window)
		if err != nil {
			return spec, fmt.Errorf("--window: %w", err)
		}
		window = w
	}
	if window == 0 {
		window = knocker.DefaultWindow
	}
	if err := knocker.CheckWindow(window); err != nil {
		return spec, err
	}
	spec.Window = int(window / time.Second)
	spec.Sequence = cfg.Sequence
	if set("sequence") {
		seq, err := knocker.ParseSequence(o.sequence)
		if err != nil {
			return spec, fmt.Errorf("--sequence: %w", err)
		}
		spec.Sequence = seq
	}
	if needSequence && len(spec.Sequence) == 0 {
		if found {
			return spec, fmt.Errorf("the stanza for %s has no KnockSequence: give --sequence", fs.Arg(0))
		}
		return spec, errors.New("no knock sequence: give a DESTINATION with a knock stanza, or --sequence")
	}
	spec.Tag = o.tag
	spec.DNAT = o.dnat
	if err := failLimit(o, fs, &spec); err != nil {
		return spec, err
	}
	if !needSequence && len(spec.Sequence) == 0 {
		spec.Sequence = knocker.Sequence{1} // --uninstall: only the names matter
	}
	return spec, spec.Validate()
}

// maxFailPeriod is the longest --fail-period.
const maxFailPeriod = firewall.MaxFailPeriod * time.Second

// failLimit puts --seed-rules, --fail-limit, --fail-period and
// --fail-prefix6 into spec, checking each.
func failLimit(o *options, fs *pflag.FlagSet, spec *firewall.Spec) error {
	set := fs.Changed
	if o.seedRules {
		for _, f := range []string{"fail-limit", "fail-period", "fail-prefix6"} {
			if set(f) {
				return fmt.Errorf("--%s does not go with --seed-rules: the seed's rules have no fail limit", f)
			}
		}
		spec.Seed = true
		return nil
	}
	switch l := o.failLimit; {
	case l == 0:
		spec.FailLimit = firewall.NoFailLimit
	case l < 0 || l > 255:
		return fmt.Errorf("--fail-limit %d: want 1 to 255 failed patterns, or 0 for no limit", l)
	default:
		spec.FailLimit = l
	}
	if p := o.failPeriod; p < time.Second || p > maxFailPeriod || p%time.Second != 0 {
		return fmt.Errorf("--fail-period %v: want whole seconds from 1s to %v (the kernel computes --seconds times HZ in 32 bits)", p, maxFailPeriod)
	}
	spec.FailPeriod = int(o.failPeriod / time.Second)
	if b := o.failPrefix6; b < 1 || b > 128 {
		return fmt.Errorf("--fail-prefix6 %d: want 1 to 128 bits", b)
	}
	spec.FailPrefix6 = o.failPrefix6
	return nil
}

// ruleFamilies parses --family.
func ruleFamilies(v string) ([]int, error) {
	switch v {
	case "4":
		return []int{4}, nil
	case "6":
		return []int{6}, nil
	case "both", "":
		return []int{4, 6}, nil
	default:
		return nil, fmt.Errorf("--family %q: want 4, 6 or both", v)
	}
}

func runRules(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	spec, err := serverSpec(o, fs, s.err, true)
	if err != nil {
		printErr(s.err, err)
		return exitUsage
	}
	fams, err := ruleFamilies(o.family)
	if err != nil {
		printErr(s.err, err)
		return exitUsage
	}
	if o.iface != "" {
		if err := firewall.CheckInterface(o.iface); err != nil {
			printErr(s.err, fmt.Errorf("--interface: %w", err))
			return exitUsage
		}
	}
	ro := firewall.RestoreOptions{Families: fams, Interface: o.iface}
	var text string
	switch format := o.format; format {
	case "restore":
		text = spec.Restore(ro)
	case "shell":
		text = spec.ShellFunction(ro)
	default:
		fmt.Fprintf(s.err, "knockssh: --format %q: want restore or shell\n", format)
		return exitUsage
	}
	if k, err := firewall.ReadKernel(); err == nil {
		if err := spec.CheckKernel(k); err != nil {
			fmt.Fprintf(s.err, "knockssh: warning: on this machine: %v\n", err)
		}
	}
	out, commit, _, err := secretOutput(o, s)
	if err != nil {
		printErr(s.err, err)
		return exitFail
	}
	io.WriteString(out, text)
	if err := commit(); err != nil {
		printErr(s.err, err)
		return exitFail
	}
	return exitOK
}

func runInstall(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio, remove bool) int {
	mode := "--install"
	if remove {
		mode = "--uninstall"
	}
	spec, err := serverSpec(o, fs, s.err, !remove)
	if err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitUsage
	}
	fams, err := ruleFamilies(o.family)
	if err == nil {
		err = checkRevertAfter(o.revertAfter)
	}
	if err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitUsage
	}
	return install(ctx, o, s, firewall.Installer{Spec: spec, Interface: o.iface, Families: fams}, mode, remove)
}

func install(ctx context.Context, o *options, s stdio, in firewall.Installer, mode string, remove bool) int {
	if runtime.GOOS != "linux" {
		fmt.Fprintf(s.err, "knockssh: %s works on Linux servers only\n", mode)
		return exitFail
	}
	if !remove {
		k, err := firewall.ReadKernel()
		if err == nil {
			err = in.Spec.CheckKernel(k)
		}
		if err != nil {
			printErr(s.err, fmt.Errorf("%s: %w", mode, err))
			return exitFail
		}
	}
	if os.Geteuid() != 0 && !o.dryRun {
		fmt.Fprintf(s.err, "knockssh: %s changes the firewall and needs root (--dry-run shows what it would do)\n", mode)
		return exitFail
	}
	guard := !remove && o.revertAfter > 0
	if remove && o.revertAfter > 0 {
		fmt.Fprintf(s.err, "knockssh: %s: --revert-after guards --install only: this uninstall takes effect at once\n", mode)
	}
	if !o.dryRun {
		// Every change of the listener takes the tag's lock: between a
		// guarded install's load and its pending file, no other may slip
		// in that its revert would undo.
		lock, err := lockTag(ctx, runDir(), in.Spec.Tag, s.err)
		if err != nil {
			printErr(s.err, fmt.Errorf("%s: %w", mode, err))
			return exitFail
		}
		defer lock.Close()
		if err := notPending(in.Spec); err != nil {
			printErr(s.err, fmt.Errorf("%s: %w", mode, err))
			return exitFail
		}
	}
	if err := checkPersisted(o, in.Spec.Tag, remove); err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitFail
	}
	var boot *persistence // --persist: found before anything changes
	if o.persist && !remove {
		var err error
		if boot, err = planPersist(in); err != nil {
			printErr(s.err, fmt.Errorf("%s --persist: %w", mode, err))
			return exitFail
		}
	}
	changes, err := in.Plan(ctx, remove)
	if err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitFail
	}
	tool := map[int]string{4: "iptables", 6: "ip6tables"}
	if o.dryRun {
		if !remove {
			warnListPerms(s.err, in.Spec)
			guardHint(s.err, o)
		}
		for _, c := range changes {
			if c.Empty() {
				fmt.Fprintf(s.out, "# %s: no change\n", tool[c.Family])
				continue
			}
			for _, n := range c.Notes {
				fmt.Fprintf(s.err, "knockssh: would do: %s\n", n)
			}
			for _, w := range c.Warnings {
				fmt.Fprintf(s.err, "knockssh: warning: %s\n", w)
			}
			fmt.Fprintf(s.out, "# %s: would run %s-restore --noflush with:\n%s", tool[c.Family], tool[c.Family], c.Restore)
			fmt.Fprintf(s.out, "# %s: the listener's rules before (-) and after (+):\n%s", tool[c.Family], c.Diff)
		}
		if boot != nil {
			boot.describe(s.out, guard)
		}
		if o.persist && remove {
			if err := unpersist(ctx, s, in.Spec.Tag, true); err != nil {
				printErr(s.err, fmt.Errorf("%s --persist: %w", mode, err))
				return exitFail
			}
		}
		return exitOK
	}
	if err := in.Apply(ctx, changes, remove); err != nil {
		printErr(s.err, fmt.Errorf("%s: %w", mode, err))
		return exitFail
	}
	guarded := ""
	if guard && slices.ContainsFunc(changes, func(c firewall.Change) bool { return !c.Empty() }) {
		if guarded, err = startGuard(ctx, o, &in, changes, boot); err != nil {
			printErr(s.err, fmt.Errorf("%s: %w", mode, err))
			return exitFail
		}
	}
	if boot != nil && guarded == "" {
		if err := boot.write(ctx, s.out); err != nil {
			err = fmt.Errorf("%s --persist: %w", mode, err)
			if rb := in.Rollback(ctx, changes); rb != nil {
				err = fmt.Errorf("%w; rolling the install back failed too: %v", err, rb)
			} else {
				err = fmt.Errorf("%w (the install is rolled back: the listener's rules are as they were)", err)
			}
			printErr(s.err, err)
			return exitFail
		}
	}
	if o.persist && remove {
		if err := unpersist(ctx, s, in.Spec.Tag, false); err != nil {
			printErr(s.err, fmt.Errorf("%s --persist: %w", mode, err))
			return exitFail
		}
	}
	if !remove {
		warnListPerms(s.err, in.Spec) // the rules have loaded xt_recent by now
	}
	what := "installed"
	if remove {
		what = "removed"
	}
	for _, c := range changes {
		for _, n := range c.Notes {
			fmt.Fprintf(s.err, "knockssh: %s\n", n)
		}
		for _, w := range c.Warnings {
			fmt.Fprintf(s.err, "knockssh: warning: %s\n", w)
		}
		if c.Empty() {
			fmt.Fprintf(s.out, "%s: no change\n", tool[c.Family])
		} else {
			fmt.Fprintf(s.out, "%s: listener %s %s\n", tool[c.Family], in.Spec.Listener(), what)
		}
	}
	switch {
	case guarded != "":
		fmt.Fprintf(s.err, "knockssh: %s\n", guarded)
	case guard:
		fmt.Fprintln(s.err, "knockssh: --revert-after: nothing changed, so nothing reverts")
	case !remove:
		guardHint(s.err, o)
	}
	return exitOK
}

// warnListPerms warns, with the fix, when users other than root can read
// the recent lists (their timestamps encode the sequence) and, for the
// hardened rules, when the lists keep too few sources for the fail limit
// to hold against many attacker sources. These are warnings, not
// refusals: the kernel's defaults (0644, 100) are on every server until
// the module is reloaded, and the knock still shuts out those who are not
// logged in to the server. One hint gives the one modprobe.d line for
// both.
func warnListPerms(stderr io.Writer, spec firewall.Spec) {
	k, err := firewall.ReadKernel()
	errs := []error{err}
	if err == nil {
		errs = []error{k.CheckListPerms()}
		if l, _, _ := spec.FailLimits(); l > 0 {
			errs = append(errs, k.CheckListTot())
		}
	}
	h := ""
	for _, err := range errs {
		if err != nil {
			fmt.Fprintf(stderr, "knockssh: warning: %v\n", err)
			h = hint(err)
		}
	}
	if h != "" {
		fmt.Fprintf(stderr, "knockssh: hint: %s\n", h)
	}
}
