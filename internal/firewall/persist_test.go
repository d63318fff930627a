package firewall

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBootDetect: netfilter-persistent where its program and plugin
// directory are, else systemd where it is the init, else a NoBootError
// naming what was looked for.
func TestBootDetect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string // below the root; a trailing / makes a directory
		want  BootKind
	}{
		{"netfilter-persistent", []string{netfilterPersistentBin, netfilterPersistentPlugins + "/"}, NetfilterPersistent},
		{"both: netfilter-persistent first", []string{netfilterPersistentBin, netfilterPersistentPlugins + "/", systemdRunning + "/"}, NetfilterPersistent},
		{"systemd", []string{systemdRunning + "/"}, Systemd},
		{"netfilter-persistent without plugins: systemd", []string{netfilterPersistentBin, systemdRunning + "/"}, Systemd},
		{"none", nil, NoBoot},
		{"a plugin directory alone", []string{netfilterPersistentPlugins + "/"}, NoBoot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(root, f)
				if strings.HasSuffix(f, "/") {
					if err := os.MkdirAll(p, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Boot{Root: root}.Detect()
			if got != tc.want {
				t.Errorf("Detect: %v, want %v", got, tc.want)
			}
			var nb *NoBootError
			if (tc.want == NoBoot) != errors.As(err, &nb) {
				t.Errorf("Detect's error %v", err)
			}
			if nb != nil && (!strings.Contains(err.Error(), filepath.Join(root, systemdRunning)) || nb.Hint() == "") {
				t.Errorf("NoBootError %q, hint %q: want what was looked for, and a hint", err, nb.Hint())
			}
		})
	}
}

// TestBootHook: the plugin runs the boot command at start and does
// nothing at save and flush; the unit runs it once, after the
// distribution's firewall units and before the network. Neither holds a
// word that sh or systemd would read anything into.
func TestBootHook(t *testing.T) {
	b := Boot{Tag: "home"}
	argv := []string{"/usr/bin/knockssh", "--install", "--config", b.ConfigPath(), "--port", "443", "home"}
	cmd := strings.Join(argv, " ")
	h, err := b.Hook(NetfilterPersistent, argv)
	if err != nil {
		t.Fatal(err)
	}
	if h.Path != "/usr/share/netfilter-persistent/plugins.d/35-knockssh-home" || h.Mode != 0o755 || h.Unit != "" {
		t.Errorf("plugin at %s, mode %04o, unit %q", h.Path, h.Mode, h.Unit)
	}
	for _, want := range []string{"#!/bin/sh\n", "start|restart|reload|force-reload)\n\texec " + cmd + "\n", "save|flush|stop)\n\t;;"} {
		if !strings.Contains(h.Text, want) {
			t.Errorf("plugin lacks %q:\n%s", want, h.Text)
		}
	}
	if b.ConfigPath() != "/etc/knockssh/home.conf" {
		t.Errorf("config at %s", b.ConfigPath())
	}
	u, err := b.Hook(Systemd, argv)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/etc/systemd/system/knockssh-home.service" || u.Unit != "knockssh-home.service" || u.Mode != 0o644 {
		t.Errorf("unit at %s (%s), mode %04o", u.Path, u.Unit, u.Mode)
	}
	for _, want := range []string{"\nType=oneshot\n", "\nRemainAfterExit=yes\n", "\nExecStart=" + cmd + "\n", "\nBefore=network-pre.target", "netfilter-persistent.service iptables.service ip6tables.service nftables.service firewalld.service\n", "\nWantedBy=multi-user.target\n"} {
		if !strings.Contains(u.Text, want) {
			t.Errorf("unit lacks %q:\n%s", want, u.Text)
		}
	}
	for _, bad := range [][]string{
		{"knockssh", "--install"},                  // not absolute
		{"/opt/my tools/knockssh", "--install"},    // a space
		{"/usr/bin/knockssh", "--config", "/e/%h"}, // a systemd specifier
		{"/usr/bin/knockssh", "$(reboot)"},
		{},
	} {
		if _, err := b.Hook(Systemd, bad); err == nil {
			t.Errorf("Hook(%q): no error", bad)
		}
	}
}
