package firewall

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Persistence keeps the listener across reboots, and only the listener: not
// a snapshot of the firewall (as "netfilter-persistent save" takes, which
// would freeze fail2ban's bans and docker's chains too), but a boot hook
// that runs the same idempotent install again once the distribution's own
// rules have loaded. Boot finds the hook this machine offers and renders
// it; the CLI writes it, with the config that holds the sequence.

// A BootKind is a way to run the install again at boot.
type BootKind int

// The boot hooks, in the order Detect prefers them.
const (
	// NoBoot: neither of the others is there.
	NoBoot BootKind = iota
	// NetfilterPersistent is a plugin of Debian's and Ubuntu's
	// netfilter-persistent (package iptables-persistent), run after its
	// own plugins have loaded the saved rules, at boot and at every
	// "netfilter-persistent start", reload or restart.
	NetfilterPersistent
	// Systemd is a oneshot unit ordered after the distribution's firewall
	// units and before the network comes up.
	Systemd
)

// String names the hook.
func (k BootKind) String() string {
	switch k {
	case NetfilterPersistent:
		return "netfilter-persistent"
	case Systemd:
		return "systemd"
	}
	return "none"
}

// The paths Boot looks at and writes, below its Root.
const (
	netfilterPersistentBin     = "/usr/sbin/netfilter-persistent"
	netfilterPersistentPlugins = "/usr/share/netfilter-persistent/plugins.d"
	systemdRunning             = "/run/systemd/system" // sd_booted(3)
	systemdUnits               = "/etc/systemd/system"
	persistDir                 = "/etc/knockssh"
	// pluginOrder puts the plugin after netfilter-persistent's own
	// 15-ip4tables and 25-ip6tables (and ipset-persistent's 10-ipset):
	// run-parts runs them in the lexical order of their names.
	pluginOrder = "35"
)

// Boot describes the boot hook of one listener.
type Boot struct {
	// Root is prefixed to every path Boot looks at or names: "" for this
	// machine's own, a directory for tests.
	Root string
	// Tag is the listener's tag, "" for INPUT.
	Tag string
	// Stat looks a path up; nil means os.Stat.
	Stat func(path string) (fs.FileInfo, error)
}

func (b Boot) path(p string) string {
	if b.Root == "" {
		return p
	}
	return filepath.Join(b.Root, p)
}

func (b Boot) name() string { return Spec{Tag: b.Tag}.tag() }

func (b Boot) stat(p string) (fs.FileInfo, error) {
	if b.Stat == nil {
		return os.Stat(b.path(p))
	}
	return b.Stat(b.path(p))
}

// ConfigDir is the directory of the configs, root's only (mode 0700).
func (b Boot) ConfigDir() string { return b.path(persistDir) }

// ConfigPath is the listener's config: a knock stanza with its sequence,
// which the boot command reads (mode 0600).
func (b Boot) ConfigPath() string { return filepath.Join(b.ConfigDir(), b.name()+".conf") }

// Alias is the Host name of the config's stanza, the boot command's
// DESTINATION.
func (b Boot) Alias() string { return b.name() }

// A NoBootError says that Detect found no boot hook.
type NoBootError struct {
	// Looked lists what Detect looked for.
	Looked []string
}

// Error says what was looked for.
func (e *NoBootError) Error() string {
	return "found no way to run the install at boot: neither netfilter-persistent (" + e.Looked[0] + " and " + e.Looked[1] + ") nor systemd as the init (" + e.Looked[2] + ")"
}

// Hint says what to do.
func (e *NoBootError) Hint() string {
	return "install iptables-persistent (Debian, Ubuntu), or have the init system of your choice run the same command without --persist at boot, after its firewall rules have loaded, with the sequence in a --config file of mode 0600"
}

// Detect returns the boot hook this machine offers: netfilter-persistent
// when its program and its plugin directory are there, else systemd when
// it is the init (sd_booted(3): /run/systemd/system exists), else a
// *NoBootError.
func (b Boot) Detect() (BootKind, error) {
	bin, binErr := b.stat(netfilterPersistentBin)
	dir, dirErr := b.stat(netfilterPersistentPlugins)
	if binErr == nil && bin.Mode().IsRegular() && dirErr == nil && dir.IsDir() {
		return NetfilterPersistent, nil
	}
	if fi, err := b.stat(systemdRunning); err == nil && fi.IsDir() {
		return Systemd, nil
	}
	return NoBoot, &NoBootError{Looked: []string{b.path(netfilterPersistentBin), b.path(netfilterPersistentPlugins), b.path(systemdRunning)}}
}

// A Hook is the file that runs the install at boot.
type Hook struct {
	// Kind is what runs it at boot.
	Kind BootKind
	// Path is where it goes; Mode its permissions.
	Path string
	Mode fs.FileMode
	// Text is its content; empty from Hooks.
	Text string
	// Unit is the systemd unit's name, for systemctl enable and disable;
	// "" for a plugin.
	Unit string
}

// Hooks returns every hook the listener may have, without their text: what
// an uninstall removes.
func (b Boot) Hooks() []Hook {
	unit := "knockssh-" + b.name() + ".service"
	return []Hook{
		{Kind: NetfilterPersistent, Path: filepath.Join(b.path(netfilterPersistentPlugins), pluginOrder+"-knockssh-"+b.name()), Mode: 0o755},
		{Kind: Systemd, Path: filepath.Join(b.path(systemdUnits), unit), Mode: 0o644, Unit: unit},
	}
}

// plainWord matches the words a hook may hold unquoted, both in sh and in
// a systemd ExecStart= (no "%" specifier, no "$" variable, no quote).
var plainWord = regexp.MustCompile(`^[A-Za-z0-9/_.,:=@+-]+$`)

// Hook returns kind's hook for the listener, running argv at boot: a
// netfilter-persistent plugin whose start runs it, or a systemd oneshot
// unit. argv must not hold the sequence (the hook is readable by all); its
// words must be plain (letters, digits and /_.,:=@+-), so that neither sh
// nor systemd reads anything into them.
func (b Boot) Hook(kind BootKind, argv []string) (Hook, error) {
	if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
		return Hook{}, errors.New("the boot command must start with the program's absolute path")
	}
	for _, w := range argv {
		if !plainWord.MatchString(w) {
			return Hook{}, fmt.Errorf("the boot command's word %q has characters a boot hook would have to quote: only letters, digits and /_.,:=@+- go (install knockssh in a directory such as /usr/local/bin)", w)
		}
	}
	var h Hook
	for _, c := range b.Hooks() {
		if c.Kind == kind {
			h = c
		}
	}
	cmd := strings.Join(argv, " ")
	listener := Spec{Tag: b.Tag}.Listener()
	switch kind {
	case NetfilterPersistent:
		h.Text = fmt.Sprintf(`#!/bin/sh
# netfilter-persistent plugin of knockssh: at start (boot, reload, restart)
# it installs knockssh's listener %[1]s again, after 15-ip4tables and
# 25-ip6tables have loaded the saved rules. Written by "knockssh --install
# --persist", removed by "knockssh --uninstall --persist". The knock
# sequence is in %[2]s (mode 0600), never here. save and
# flush do nothing: the listener is not saved with the rules but installed
# from its config.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
case "$1" in
start|restart|reload|force-reload)
	exec %[3]s
	;;
save|flush|stop)
	;;
*)
	echo "Usage: $0 {start|restart|reload|force-reload|save|flush}" >&2
	exit 1
	;;
esac
`, listener, b.ConfigPath(), cmd)
	case Systemd:
		h.Text = fmt.Sprintf(`# Written by "knockssh --install --persist", removed by "knockssh --uninstall
# --persist": installs knockssh's listener %[1]s again at boot, after the
# distribution's firewall rules have loaded and before the network comes
# up. The knock sequence is in %[2]s (mode 0600), never here.
[Unit]
Description=knockssh listener %[1]s
Documentation=man:knockssh(1)
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target shutdown.target
After=local-fs.target systemd-modules-load.service netfilter-persistent.service iptables.service ip6tables.service nftables.service firewalld.service
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%[3]s

[Install]
WantedBy=multi-user.target
`, listener, b.ConfigPath(), cmd)
	default:
		return Hook{}, errors.New("no boot hook to render")
	}
	return h, nil
}
