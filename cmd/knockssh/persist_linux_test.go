package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knockssh/knockssh/internal/lab"
)

// TestPersistNetfilterPersistent: --install --persist on a machine with
// netfilter-persistent writes its plugin and the config; after a reboot
// (the namespace's tables flushed, then the real netfilter-persistent
// start: its own plugins restore the saved rules, then knockssh's runs)
// the firewall is exactly as the install left it; --uninstall --persist
// removes the listener, the plugin and the config. The machine's /etc and
// /usr/share stay untouched: the plugin directory is a copy of the real
// one below $KNOCKSSH_PERSIST_ROOT, and the namespace's /etc/iptables and
// /etc/default (netfilter-persistent's PLUGINS) are bound from
// /etc/netns/NAME by ip netns exec.
func TestPersistNetfilterPersistent(t *testing.T) {
	lab.Require(t, "netfilter-persistent")
	t.Parallel()
	l := lab.New(t, lab.Options{Listener: ":"})
	base4, base6 := l.Server.Run(t, "iptables-save"), l.Server.Run(t, "ip6tables-save")
	before := saveState(t, l)

	root := filepath.Join(l.Dir, "root")
	plugins := filepath.Join(root, "usr/share/netfilter-persistent/plugins.d")
	for _, f := range []string{"/usr/sbin/netfilter-persistent", "/usr/share/netfilter-persistent/plugins.d/15-ip4tables", "/usr/share/netfilter-persistent/plugins.d/25-ip6tables"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(root, f), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	kc := filepath.Join(l.Dir, "knock_config")
	writeFile(t, kc, "Host lab\n    KnockSequence 3142\n    KnockPort 22\n    KnockWindow 1\n")
	try := func(args ...string) (string, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := l.Server.Command(ctx, knocksshBin, args...)
		c.Env = append(os.Environ(), "XDG_CACHE_HOME="+l.Dir, "KNOCKSSH_PERSIST_ROOT="+root)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		if strings.Contains(stdout.String()+stderr.String(), "3142") {
			t.Errorf("knockssh %q shows the sequence:\n%s%s", args, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String(), err
	}
	run := func(args ...string) string {
		t.Helper()
		stdout, stderr, err := try(args...)
		if err != nil {
			t.Fatalf("knockssh %q: %v\n%s%s", args, err, stdout, stderr)
		}
		return stdout
	}

	out := run("--install", "--persist", "--dry-run", "--tag", "pers", "--config", kc, "lab")
	if !strings.Contains(out, "# boot: would write "+filepath.Join(plugins, "35-knockssh-pers")) {
		t.Errorf("--dry-run --persist does not say what it would write:\n%s", out)
	}
	if got := saveState(t, l); got != before {
		t.Fatalf("--dry-run changed the firewall")
	}
	out = run("--install", "--persist", "--tag", "pers", "--config", kc, "lab")
	if !strings.Contains(out, "boot: netfilter-persistent runs "+filepath.Join(plugins, "35-knockssh-pers")) {
		t.Errorf("--install --persist does not say where the hook is:\n%s", out)
	}
	installed := saveState(t, l)
	if installed == before {
		t.Fatal("--install --persist installed nothing")
	}
	conf := filepath.Join(root, "etc/knockssh/pers.conf")
	if fi, err := os.Stat(conf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the config: %v, %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Dir(conf)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the config's directory: %v, %v", fi, err)
	}

	// Persisted, the listener changes only with --persist: the boot would
	// bring back the hook's rules.
	hook := filepath.Join(plugins, "35-knockssh-pers")
	for _, tc := range []struct{ mode, want string }{
		{"--install", "knockssh: --install: listener KNOCKS_pers is persisted (" + hook + "): without --persist, the next boot would install the rules of " + conf + " again, not these\nknockssh: hint: add --persist to write its boot hook and config for these rules too\n"},
		{"--uninstall", "knockssh: --uninstall: listener KNOCKS_pers is persisted (" + hook + "): without --persist, the next boot would install it again\nknockssh: hint: add --persist to remove its boot hook and config too\n"},
	} {
		if _, stderr, err := try(tc.mode, "--tag", "pers", "--config", kc, "--window", "2", "lab"); err == nil || stderr != tc.want {
			t.Errorf("%s without --persist: %v\n%s\nwant:\n%s", tc.mode, err, stderr, tc.want)
		}
	}
	if saveState(t, l) != installed {
		t.Fatal("a refused --install or --uninstall changed the firewall")
	}

	// The reboot: an empty filter table, then the distribution's boot.
	for _, cmd := range []string{"iptables-restore", "ip6tables-restore"} {
		c := l.Server.Command(context.Background(), cmd)
		c.Stdin = strings.NewReader("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n") // the only table of the lab's
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
	}
	if saveState(t, l) == installed {
		t.Fatal("the reboot's flush left the rules")
	}
	etc := filepath.Join("/etc/netns", l.Server.Name)
	t.Cleanup(func() { os.RemoveAll(etc) })
	for name, text := range map[string]string{"iptables/rules.v4": base4, "iptables/rules.v6": base6, "default/netfilter-persistent": "PLUGINS=" + plugins + "\n"} {
		os.MkdirAll(filepath.Join(etc, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(etc, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	boot := l.Server.Command(context.Background(), "netfilter-persistent", "start")
	boot.Env = append(os.Environ(), "KNOCKSSH_PERSIST_ROOT="+root) // the hook's install is not refused for its own hook
	if out, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("netfilter-persistent start: %v\n%s", err, out)
	}
	if got := saveState(t, l); got != installed {
		t.Errorf("after the boot the firewall is not as --install --persist left it:\n%s\nwant:\n%s", got, installed)
	}

	out = run("--uninstall", "--persist", "--tag", "pers", "--config", kc, "lab")
	for _, path := range []string{conf, hook} {
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("%s is still there after --uninstall --persist: %v", path, err)
		}
		if !strings.Contains(out, "boot: remove "+path) {
			t.Errorf("--uninstall --persist does not say it removed %s:\n%s", path, out)
		}
	}
	if got := saveState(t, l); got != before {
		t.Errorf("after --uninstall the firewall is not as before:\n%s\nwant:\n%s", got, before)
	}
	// The tag's lock is the namespace's: its firewall is its own.
	fi, err := os.Stat(filepath.Join("/run/netns", l.Server.Name))
	if err != nil {
		t.Fatal(err)
	}
	lock := fmt.Sprintf("/run/knockssh/net-%d/pending-pers.lock", fi.Sys().(*syscall.Stat_t).Ino)
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("the install's lock is not in the namespace's run directory: %v", err)
	}
}

// TestPersistRefusesUntrustedProgram: the boot hook runs knockssh as root,
// so --persist refuses a knockssh that someone other than root may change
// (the file or a directory above it), before anything changes, in one line
// with a hint.
func TestPersistRefusesUntrustedProgram(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755)
	data, err := os.ReadFile(knocksshBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// setup makes bin untrusted and returns why.
		setup func(bin string) string
	}{
		{"owner", func(bin string) string {
			os.Chown(bin, 65534, 65534)
			return "it is owned by uid 65534 (nobody)"
		}},
		{"dir", func(bin string) string {
			os.Chmod(filepath.Dir(bin), 0o777)
			return "its directory " + filepath.Dir(bin) + " is writable by others (mode 0777)"
		}},
	} {
		dir := filepath.Join(t.TempDir(), "bin")
		os.Mkdir(dir, 0o755)
		bin := filepath.Join(dir, "knockssh")
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		why := tc.setup(bin)
		c := exec.Command(bin, "--install", "--persist", "--dry-run", "--port", "22", "--sequence", "1234")
		c.Env = append(os.Environ(), "KNOCKSSH_PERSIST_ROOT="+root)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		want := "knockssh: --install --persist: the boot hook would run " + bin + " as root, but " + why + ": whoever may change it would run as root at the next boot\nknockssh: hint: install knockssh where only root may change it, such as /usr/local/bin (the package installs /usr/bin/knockssh), and run that one\n"
		if err := c.Run(); err == nil || stderr.String() != want {
			t.Errorf("%s: %v\n%s\nwant:\n%s", tc.name, err, stderr.String(), want)
		}
	}
}
