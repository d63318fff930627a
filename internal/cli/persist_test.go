package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/knockssh/knockssh/knocker"
)

// TestBootArgsRoundTrip: the boot command --persist writes, with its
// config, makes exactly the rules of the install it persists: run as
// --rules, it prints the installed listener's restore file, for specs
// that differ in every value that shapes the rules. Its words never hold
// the sequence.
func TestBootArgsRoundTrip(t *testing.T) {
	seq, err := knocker.ParseSequence("7315926")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   firewall.Installer
	}{
		{"defaults", firewall.Installer{Spec: firewall.Spec{Sequence: seq, Window: 3, KnockPort: 443, SecurePort: 443}}},
		{"seed rules, a tag", firewall.Installer{Spec: firewall.Spec{Sequence: seq, Window: 1, KnockPort: 22, SecurePort: 22, Tag: "home", Seed: true}}},
		{"fail limits, IPv6 /56, IPv4 only", firewall.Installer{Spec: firewall.Spec{Sequence: seq, Window: 2, KnockPort: 8443, SecurePort: 2222, FailLimit: 9, FailPeriod: 3600, FailPrefix6: 56}, Families: []int{4}}},
		{"no fail limit, IPv6 only", firewall.Installer{Spec: firewall.Spec{Sequence: seq, Window: 4, KnockPort: 443, SecurePort: 22, FailLimit: firewall.NoFailLimit}, Families: []int{6}}},
		{"DNAT on an interface", firewall.Installer{Spec: firewall.Spec{Sequence: seq, Window: 1, KnockPort: 443, SecurePort: 22, DNAT: true, Tag: "web"}, Interface: "eth0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := firewall.Boot{Root: t.TempDir(), Tag: tc.in.Spec.Tag}
			argv := bootArgs("/usr/bin/knockssh", b, tc.in)
			if slices.ContainsFunc(argv, func(w string) bool { return strings.Contains(w, seq.Digits()) }) {
				t.Fatalf("the boot command holds the sequence: %q", argv)
			}
			if _, err := b.Hook(firewall.Systemd, argv); err != nil {
				t.Fatalf("Hook: %v", err)
			}
			if err := os.MkdirAll(b.ConfigDir(), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(b.ConfigPath(), []byte(bootConfig(b, tc.in.Spec)), 0o600); err != nil {
				t.Fatal(err)
			}
			if argv[1] != "--install" {
				t.Fatalf("the boot command %q is no --install", argv)
			}
			args := append([]string{"--rules"}, argv[2:]...)
			var stdout, stderr bytes.Buffer
			if status := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); status != 0 {
				t.Fatalf("knockssh %q: status %d: %s", args, status, stderr.String())
			}
			fams := tc.in.Families
			if len(fams) == 0 {
				fams = []int{4, 6}
			}
			want := tc.in.Spec.Restore(firewall.RestoreOptions{Families: fams, Interface: tc.in.Interface})
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("the boot command's rules differ from the install's:\n%s\nwant:\n%s", stdout.String(), want)
			}
		})
	}
}

// TestPersistWriteRemove: write puts the config (0600, in a 0700
// directory) and the plugin in place, says where without the sequence,
// and remove takes both away again; a failing step leaves the files as
// they were.
func TestPersistWriteRemove(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/sbin/netfilter-persistent"), []byte("#!/bin/sh\n"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/share/netfilter-persistent/plugins.d"), 0o755)
	t.Setenv(persistRootEnv, root)
	seq, _ := knocker.ParseSequence("4815162")
	in := firewall.Installer{Spec: firewall.Spec{Sequence: seq, Window: 1, KnockPort: 443, SecurePort: 443, Tag: "t1"}}
	p, err := planPersist(in)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.describe(&out, false)
	if err := p.write(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), seq.Digits()) {
		t.Errorf("output holds the sequence: %s", out.String())
	}
	for path, mode := range map[string]os.FileMode{
		p.boot.ConfigDir():  0o700 | os.ModeDir,
		p.boot.ConfigPath(): 0o600,
		p.hook.Path:         0o755,
	} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, mode %v, want %v", path, err, fi.Mode(), mode)
		}
	}
	if data, _ := os.ReadFile(p.boot.ConfigPath()); !strings.Contains(string(data), "KnockSequence "+seq.Digits()+"\n") {
		t.Errorf("config:\n%s", data)
	}
	if data, _ := os.ReadFile(p.hook.Path); strings.Contains(string(data), seq.Digits()) {
		t.Errorf("the plugin holds the sequence:\n%s", data)
	}

	out.Reset()
	if err := newPersistence("t1").remove(context.Background(), &out, false); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p.boot.ConfigPath(), p.hook.Path} {
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("%s still there after remove: %v", path, err)
		}
	}
	if !strings.Contains(out.String(), "remove "+p.hook.Path) {
		t.Errorf("remove said %q", out.String())
	}

	// A unit that cannot be enabled: nothing written stays.
	os.RemoveAll(filepath.Join(root, "usr"))
	os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755)
	in.Spec.Tag = "t2"
	q, err := planPersist(in)
	if err != nil {
		t.Fatal(err)
	}
	q.systemctl = func(context.Context, ...string) error { return os.ErrPermission }
	if err := q.write(context.Background(), &out); err == nil {
		t.Error("write with a failing systemctl: no error")
	}
	for _, path := range []string{q.boot.ConfigPath(), q.hook.Path} {
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("%s left behind after the failure: %v", path, err)
		}
	}
}
