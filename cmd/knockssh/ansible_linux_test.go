package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/knockssh/knockssh/internal/lab"
)

// fleetHosts are the lab's three servers as ssh's config names them.
var fleetHosts = []string{"lab", "fleet1", "fleet2"}

// fleetSequences gives each server a sequence of its own (all of sum 10,
// so that every server counts knock1234 packets for one knock).
var fleetSequences = []string{"1234", "3142", "4321"}

// ansibleFleet is a lab of three servers, each with its own sequence,
// and the files ansible needs to reach them from the client namespace:
// configs/ansible/ansible.cfg as shipped, an inventory and knock stanzas
// of the same form as the examples beside it, and an environment that
// keeps ansible's files in the lab's directory.
type ansibleFleet struct {
	*front
	cfgDir string
}

func newAnsibleFleet(t testing.TB, window int, listener string) *ansibleFleet {
	lab.Require(t, "sshd", "ansible", "ansible-playbook", "sftp")
	l := lab.New(t, lab.Options{Window: window, KnockPort: 22, SecurePort: 22, SSHD: true, Servers: 3,
		Sequences: fleetSequences, Listener: listener})
	f := &ansibleFleet{front: &front{t: t, l: l, kc: filepath.Join(l.Dir, "knock_config")}, cfgDir: filepath.Join(l.Dir, "ansible")}
	var kc strings.Builder
	for i, h := range fleetHosts {
		fmt.Fprintf(&kc, "Host %s\n    KnockSequence %s\n    KnockPort 22\n    KnockWindow %d\n", h, fleetSequences[i], window)
	}
	f.write(f.kc, kc.String())
	if err := os.Mkdir(f.cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("../../configs/ansible/ansible.cfg")
	if err != nil {
		t.Fatal(err)
	}
	f.write(filepath.Join(f.cfgDir, "ansible.cfg"), string(cfg))
	f.write(filepath.Join(f.cfgDir, "inventory.ini"), "[fleet]\n"+strings.Join(fleetHosts, "\n")+"\n\n[fleet:vars]\nansible_user=root\n")
	f.env = append(os.Environ(),
		"PATH="+filepath.Dir(knocksshBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KNOCKSSH_CONFIG="+f.kc, "XDG_CACHE_HOME="+l.Dir,
		"ANSIBLE_CONFIG="+filepath.Join(f.cfgDir, "ansible.cfg"),
		// The lab's ssh config (addresses, key, known hosts) for ssh
		// and for the sftp ansible runs beside it, as ~/.ssh/config
		// would be.
		"ANSIBLE_SSH_COMMON_ARGS=-F "+l.SSH.Config,
		"ANSIBLE_HOME="+filepath.Join(l.Dir, "ansible-home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(l.Dir, "ansible-tmp"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(l.Dir, "ansible-remote"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0",
	)
	f.controlDir("cp")
	return f
}

// controlDir points ansible's connection sharing at a new directory of
// the lab's: the commands after it start with no connection to reuse.
func (f *ansibleFleet) controlDir(name string) {
	f.env = append(f.env, "ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(f.l.Dir, name))
}

// ansible runs an ansible command (ansible, ansible-playbook) in the
// ansible directory of the lab, in the client namespace.
func (f *ansibleFleet) ansible(name string, args ...string) string {
	f.t.Helper()
	c := f.cmd(f.t.Context(), name, args...)
	c.Dir = f.cfgDir
	out, err := c.CombinedOutput()
	if err != nil {
		f.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// knocksEach checks that every server counted want knock packets.
func (f *ansibleFleet) knocksEach(what string, want uint64) {
	f.t.Helper()
	for i, h := range f.l.Servers {
		if n := knocksOn(f.t, f.l, h); n != want {
			f.t.Errorf("%s: server %s (%s) counted %d knocks, want %d", what, fleetHosts[i], lab.FleetIP4(i), n, want)
		}
	}
}

// recap matches a host's line of ansible-playbook's PLAY RECAP.
var recap = regexp.MustCompile(`(?m)^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// checkRecap checks that every fleet host ran ok tasks, changed as many,
// and none was unreachable or failed.
func (f *ansibleFleet) checkRecap(out string, ok, changed int) {
	f.t.Helper()
	got := map[string]string{}
	for _, m := range recap.FindAllStringSubmatch(out, -1) {
		got[m[1]] = strings.Join(m[2:], " ")
	}
	want := fmt.Sprintf("%d %d 0 0", ok, changed)
	for _, h := range fleetHosts {
		if got[h] != want {
			f.t.Errorf("%s: recap ok/changed/unreachable/failed %q, want %q\n%s", h, got[h], want, out)
		}
	}
}

// checkPong checks that ansible -m ping reached every fleet host: a
// SUCCESS line for each, and as many pongs.
func (f *ansibleFleet) checkPong(out string) {
	f.t.Helper()
	for _, h := range fleetHosts {
		if !regexp.MustCompile(`(?m)^` + h + ` \| SUCCESS => \{$`).MatchString(out) {
			f.t.Errorf("ansible -m ping did not reach %s:\n%s", h, out)
		}
	}
	if n := strings.Count(out, `"ping": "pong"`); n != len(fleetHosts) {
		f.t.Errorf("ansible -m ping: %d pongs, want %d:\n%s", n, len(fleetHosts), out)
	}
}

// TestAnsibleFleet: ansible, with configs/ansible/ansible.cfg as shipped
// (knockssh as ssh_executable) and its own defaults (ConnectTimeout 10,
// ControlPersist 60s, forks above the hosts), reaches three servers of the
// seed's rules, each with its own sequence: ansible all -m ping knocks on
// each exactly once (the servers' counters), and a playbook right after
// runs over the connections ansible keeps, knocking no more. At W=4 the
// knock alone takes 12 s, past ansible's timeout: knockssh gives ssh that
// time on top.
//
// The ansible tests are not parallel with the others: ansible's Python
// processes, dozens of them, would starve the timing of the knocks of the
// lab tests that run beside them at W=1. Their subtests run together.
func TestAnsibleFleet(t *testing.T) {
	for _, w := range []int{1, 4} {
		t.Run(fmt.Sprintf("W=%d", w), func(t *testing.T) {
			t.Parallel()
			f := newAnsibleFleet(t, w, "")
			f.checkPong(f.ansible("ansible", "all", "-m", "ping"))
			f.knocksEach("ansible all -m ping", knock1234)
			f.checkRecap(f.ansible("ansible-playbook", configFile(t, "ping.yml")), 2, 0)
			f.knocksEach("ansible-playbook over the kept connections", knock1234)
		})
	}
}

// TestAnsibleInstall: configs/ansible/knock-install.yml installs each
// server's own rules with knockssh --install over ssh while the port is
// still open to the controller (a bootstrap ACCEPT from its address only:
// one from anywhere makes --install refuse); once the bootstrap ACCEPT is
// gone, ansible gets in by knocking (each server counts one knock) and a
// second run of the play changes nothing.
func TestAnsibleInstall(t *testing.T) {
	f := newAnsibleFleet(t, 1, ":")
	bootstrap := func(h *lab.Host, i int, op string) {
		h.Run(t, "iptables", op, "INPUT", "-s", lab.FleetIP4(i).Next().String(), "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
		h.Run(t, "ip6tables", op, "INPUT", "-s", lab.ClientIP6.String(), "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	}
	for i, h := range f.l.Servers {
		bootstrap(h, i, "-A")
	}
	play := configFile(t, "knock-install.yml")
	for i, h := range fleetHosts {
		if err := os.MkdirAll(filepath.Join(f.cfgDir, "host_vars"), 0o700); err != nil {
			t.Fatal(err)
		}
		f.write(filepath.Join(f.cfgDir, "host_vars", h+".yml"), fmt.Sprintf("knock_sequence: %q\nknock_port: 22\nknock_window: 1\n", fleetSequences[i]))
	}
	// No sudo in the lab: ansible logs in as root. The servers share the
	// test's file system: the stanza files go below the lab's directory
	// whatever the inventory says (extra variables win over all others).
	args := []string{play, "-e", "knockssh=" + knocksshBin, "-e", "ansible_become=false",
		"-e", "knock_config=" + filepath.Join(f.l.Dir, "srv-{{ inventory_hostname }}", "knock_config")}
	out := f.ansible("ansible-playbook", append(args, "--diff", "-vvv")...)
	f.checkRecap(out, 3, 3)
	for _, seq := range fleetSequences {
		if strings.Contains(out, "KnockSequence "+seq) || strings.Contains(out, `"knock_sequence": "`+seq) {
			t.Errorf("the play's output (--diff -vvv) shows the sequence %s:\n%s", seq, out)
		}
	}
	for i, h := range f.l.Servers {
		bootstrap(h, i, "-D")
	}
	f.l.ZeroCounters(t)
	f.controlDir("cp2")
	f.checkPong(f.ansible("ansible", "all", "-m", "ping"))
	f.knocksEach("ansible all -m ping after the install", knock1234)
	f.checkRecap(f.ansible("ansible-playbook", args...), 3, 0)
}

// configFile returns the absolute path of configs/ansible/name: the
// plays run as shipped.
func configFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../../configs/ansible", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
