package firewall

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Kernel describes what of the running kernel's xt_recent the listener
// depends on.
//
// From Linux 4.10 on, xt_recent sizes each list's ring of hits itself: the
// next power of two of the largest --hitcount of the rules that use the
// list (32 without one). Its module parameter ip_pkt_list_tot defaults to
// 0, is kept for compatibility only, and can only make the ring larger;
// --hitcount is limited to 255 (65535 from Linux 6.11). Before 4.10 every
// list keeps ip_pkt_list_tot hits per address, default 20, and the kernel
// refuses a rule whose --hitcount is larger: the seed's own cleanup rule,
// --hitcount 2*SEQSUM+1, needs 21 for the sequence 1234.
type Kernel struct {
	// Release is the kernel release, as uname -r prints it.
	Release string
	// PktListTot is xt_recent's ip_pkt_list_tot; -1 when the module is not
	// loaded.
	PktListTot int
	// ListPerms, ListUID and ListGID are xt_recent's ip_list_perms,
	// ip_list_uid and ip_list_gid: the mode, owner and group of the files
	// in /proc/net/xt_recent. ListPerms is -1 when the module is not
	// loaded.
	ListPerms, ListUID, ListGID int
	// ListTot is xt_recent's ip_list_tot, the most sources a list keeps;
	// -1 when the module is not loaded.
	ListTot int
}

// Paths ReadKernel reads.
const (
	osReleasePath  = "/proc/sys/kernel/osrelease"
	pktListTotPath = "/sys/module/xt_recent/parameters/ip_pkt_list_tot"
	paramsDir      = "/sys/module/xt_recent/parameters/"
)

// ReadKernel reads the running kernel's release and xt_recent's
// ip_pkt_list_tot (-1 when the module is not loaded).
func ReadKernel() (Kernel, error) {
	k := Kernel{PktListTot: -1, ListPerms: -1, ListTot: -1}
	rel, err := os.ReadFile(osReleasePath)
	if err != nil {
		return k, fmt.Errorf("reading the kernel release: %w", err)
	}
	k.Release = strings.TrimSpace(string(rel))
	v, err := os.ReadFile(pktListTotPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return k, fmt.Errorf("reading xt_recent's ip_pkt_list_tot: %w", err)
	default:
		n, err := strconv.Atoi(strings.TrimSpace(string(v)))
		if err != nil {
			return k, fmt.Errorf("%s: %q is not a number", pktListTotPath, strings.TrimSpace(string(v)))
		}
		k.PktListTot = n
		for _, p := range []struct {
			name string
			v    *int
		}{{"ip_list_perms", &k.ListPerms}, {"ip_list_uid", &k.ListUID}, {"ip_list_gid", &k.ListGID}, {"ip_list_tot", &k.ListTot}} {
			v, err := os.ReadFile(paramsDir + p.name)
			if err != nil {
				return k, fmt.Errorf("reading xt_recent's %s: %w", p.name, err)
			}
			if *p.v, err = strconv.Atoi(strings.TrimSpace(string(v))); err != nil {
				return k, fmt.Errorf("%s%s: %q is not a number", paramsDir, p.name, strings.TrimSpace(string(v)))
			}
		}
	}
	return k, nil
}

// A ListPermsError says who besides root can read the recent lists.
type ListPermsError struct {
	Perms, UID, GID int
}

// Error names the parameters and who may read the lists.
func (e *ListPermsError) Error() string {
	var who []string
	if e.Perms&0o004 != 0 {
		who = append(who, "every local user")
	} else {
		if e.UID != 0 && e.Perms&0o400 != 0 {
			who = append(who, fmt.Sprintf("user %d", e.UID))
		}
		if e.GID != 0 && e.Perms&0o040 != 0 {
			who = append(who, fmt.Sprintf("group %d", e.GID))
		}
	}
	return fmt.Sprintf("the knock lists in /proc/net/xt_recent are readable by %s (xt_recent's ip_list_perms %04o, ip_list_uid %d, ip_list_gid %d): "+
		"their timestamps give the sequence away whenever someone knocks", strings.Join(who, " and "), e.Perms, e.UID, e.GID)
}

// Hint says how to make the lists root's only.
func (e *ListPermsError) Hint() string { return modprobeHint() }

// modprobeHint says how to set the module parameters knockssh
// recommends, in one modprobe.d line.
func modprobeHint() string {
	return fmt.Sprintf("put %q in /etc/modprobe.d/xt_recent.conf, then reload the module (remove every rule that uses -m recent, \"modprobe -r xt_recent && modprobe xt_recent\") or reboot", recommendedOptions)
}

// recommendedOptions makes the recent lists readable by root only and
// lets them keep RecommendedListTot sources.
var recommendedOptions = fmt.Sprintf("options xt_recent ip_list_perms=0600 ip_list_uid=0 ip_list_gid=0 ip_list_tot=%d", RecommendedListTot)

// A ListTotError says that the recent lists keep fewer sources than
// knockssh recommends.
type ListTotError struct {
	ListTot int
}

// Error names ip_list_tot's value and what it lets an attacker do.
func (e *ListTotError) Error() string {
	return fmt.Sprintf("xt_recent keeps %d sources per list (ip_list_tot): an attacker with more sources evicts their fails, and the fail limit stops holding; knocks from more sources (spoofed ones too) evict a real user's knocks", e.ListTot)
}

// Hint says how to raise ip_list_tot, in the same line as ip_list_perms.
func (e *ListTotError) Hint() string { return modprobeHint() }

// CheckListTot returns a *ListTotError when the recent lists keep fewer
// than RecommendedListTot sources, nil when they keep enough or the
// module is not loaded.
func (k Kernel) CheckListTot() error {
	if k.ListTot < 0 || k.ListTot >= RecommendedListTot {
		return nil
	}
	return &ListTotError{ListTot: k.ListTot}
}

// CheckListPerms returns a *ListPermsError when anyone but root can read
// the recent lists, nil when no one can or the module is not loaded.
func (k Kernel) CheckListPerms() error {
	if k.ListPerms < 0 {
		return nil
	}
	e := &ListPermsError{Perms: k.ListPerms, UID: k.ListUID, GID: k.ListGID}
	if e.Perms&0o004 != 0 || e.UID != 0 && e.Perms&0o400 != 0 || e.GID != 0 && e.Perms&0o040 != 0 {
		return e
	}
	return nil
}

// version returns the release's major and minor numbers; ok is false when
// the release does not start with them.
func (k Kernel) version() (major, minor int, ok bool) {
	f := strings.FieldsFunc(k.Release, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(f[0])
	minor, err2 := strconv.Atoi(f[1])
	return major, minor, err1 == nil && err2 == nil
}

// sizesRings reports whether the kernel sizes xt_recent's rings from the
// rules' --hitcount (Linux 4.10 and later, or ip_pkt_list_tot 0, which
// older kernels refuse).
func (k Kernel) sizesRings() bool {
	if k.PktListTot == 0 {
		return true
	}
	major, minor, ok := k.version()
	if !ok {
		return true // not a Linux release we know: assume a current kernel
	}
	return major > 4 || major == 4 && minor >= 10
}

// maxHitcount returns the largest --hitcount of the listener's rules.
func (s Spec) maxHitcount() int {
	m := 0
	for _, r := range s.Rules("INPUT") {
		if r.Recent != nil {
			m = max(m, r.Recent.Hitcount)
		}
	}
	return m
}

// modprobeOption is what /etc/modprobe.d needs on a kernel that limits
// --hitcount to ip_pkt_list_tot: the largest value every kernel accepts,
// which fits every listener Validate accepts.
const modprobeOption = "options xt_recent ip_pkt_list_tot=255"

// CheckKernel reports whether kernel k loads the listener's rules, and if
// not what to do. Like Validate's, its errors never reveal the sequence.
func (s Spec) CheckKernel(k Kernel) error {
	if k.sizesRings() {
		return nil
	}
	limit, what := k.PktListTot, "its ip_pkt_list_tot is"
	if limit < 0 {
		limit, what = 20, "ip_pkt_list_tot defaults to"
	}
	if s.maxHitcount() <= limit {
		return nil
	}
	return fmt.Errorf("xt_recent of Linux %s keeps at most ip_pkt_list_tot hits per address and refuses a larger --hitcount; %s %d, too few for these rules: "+
		"put %q in /etc/modprobe.d/xt_recent.conf, then reload the module (remove every rule that uses -m recent, \"modprobe -r xt_recent && modprobe xt_recent\") or reboot",
		k.Release, what, limit, modprobeOption)
}
