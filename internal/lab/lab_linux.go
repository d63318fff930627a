package lab

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The lab's addresses.
var (
	ServerIP4 = netip.MustParseAddr("192.0.2.1")
	ClientIP4 = netip.MustParseAddr("192.0.2.2")
	ServerIP6 = netip.MustParseAddr("2001:db8::1")
	ClientIP6 = netip.MustParseAddr("2001:db8::2")
)

// Options configure a lab. Zero fields take the defaults.
type Options struct {
	// Sequence is the server's knock sequence, default "1234".
	Sequence string
	// Window is the server's KNOCKWINDOW in seconds, default 1.
	Window int
	// KnockPort is the port knocks go to, default 22.
	KnockPort int
	// SecurePort is the port the firewall protects, default 22.
	SecurePort int
	// DNAT selects the seed's forwarding variant: TCP arriving for
	// KnockPort is DNAT'ed to SecurePort and TCP arriving for SecurePort
	// directly is dropped, so only UDP knocks count. Typically KnockPort 443
	// and SecurePort 22.
	DNAT bool
	// Listener selects the knock rules: "" or "seed" for the seed's
	// portKnockListener function verbatim (4 bursts only); "none" for no
	// knock rules, the secure port plainly open; anything else is a bash
	// script run in the server namespace once for iptables and once for
	// ip6tables, with IPTABLES, CHAIN=INPUT, KNOCKPORT, SECUREPORT,
	// KNOCKWINDOW and SEQUENCE in its environment.
	Listener string
	// SSHD starts a real OpenSSH sshd on SecurePort in the server namespace.
	SSHD bool
	// Servers is the number of server namespaces, all with the same
	// firewall (and sshd), default 1. Server i > 0 is FleetIP4(i), reached
	// by the client's eth<i>.
	Servers int
	// Sequences, when set, gives server i the sequence Sequences[i]
	// instead of Sequence (a fleet whose hosts each have their own).
	Sequences []string
}

// sequence returns server i's knock sequence.
func (o Options) sequence(i int) string {
	if i < len(o.Sequences) && o.Sequences[i] != "" {
		return o.Sequences[i]
	}
	return o.Sequence
}

// FleetIP4 returns the address of server i: ServerIP4 for 0, else
// 198.51.100.(16i+1) in a /28 of its own.
func FleetIP4(i int) netip.Addr {
	if i == 0 {
		return ServerIP4
	}
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(16*i + 1)})
}

func (o Options) withDefaults() Options {
	if o.Sequence == "" {
		o.Sequence = "1234"
	}
	if o.Window == 0 {
		o.Window = 1
	}
	if o.KnockPort == 0 {
		o.KnockPort = 22
	}
	if o.SecurePort == 0 {
		o.SecurePort = 22
	}
	if o.Listener == "" {
		o.Listener = "seed"
	}
	if o.Servers == 0 {
		o.Servers = 1
	}
	return o
}

// A Lab is a server and a client namespace joined by a veth pair (eth0 on
// both sides).
type Lab struct {
	// Opts are the options the lab was built with, defaults filled in.
	Opts Options
	// Dir is a temporary directory for keys, configs and captures.
	Dir string
	// Server and Client are the two namespaces.
	Server, Client *Host
	// Servers are all the server namespaces, Server first (Options.Servers).
	Servers []*Host
	// The addresses, the same in every lab.
	ServerIP4, ClientIP4, ServerIP6, ClientIP6 netip.Addr
	// SSH describes the running sshd; nil unless Options.SSHD.
	SSH *SSH

	mu       sync.Mutex
	cleanups []func()
}

var (
	labCount  atomic.Int64
	sweepOnce sync.Once
)

// New builds a lab and registers its teardown with tb.Cleanup.
func New(tb testing.TB, o Options) *Lab {
	tb.Helper()
	o = o.withDefaults()
	need := []string{}
	if o.SSHD {
		need = append(need, "sshd")
	}
	Require(tb, need...)
	sweepOnce.Do(sweep)
	id := fmt.Sprintf("ks%d-%d", os.Getpid(), labCount.Add(1))
	// A short directory: ssh's control sockets and knockssh's shared
	// connections go below it, within a socket path's 104 bytes.
	dir, err := os.MkdirTemp("", id+"-")
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) }) // after the teardown, registered below
	l := &Lab{
		Opts:      o,
		Dir:       dir,
		Server:    &Host{Name: id + "-srv"},
		Client:    &Host{Name: id + "-cli"},
		ServerIP4: ServerIP4, ClientIP4: ClientIP4, ServerIP6: ServerIP6, ClientIP6: ClientIP6,
	}
	l.Servers = []*Host{l.Server}
	for i := 1; i < o.Servers; i++ {
		l.Servers = append(l.Servers, &Host{Name: fmt.Sprintf("%s-srv%d", id, i)})
	}
	tb.Cleanup(l.teardown)
	start := time.Now()
	if err := l.build(); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	if err := l.applyFirewall(); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	if o.SSHD {
		if err := l.startSSHD(); err != nil {
			tb.Fatalf("lab: %v", err)
		}
	}
	tb.Logf("lab %s ready in %v", id, time.Since(start).Round(time.Millisecond))
	return l
}

// build creates the namespaces, the veth pair and the addresses.
func (l *Lab) build() error {
	s, c := l.Server.Name, l.Client.Name
	script := fmt.Sprintf(`set -e
ip netns add %[1]s
ip netns add %[2]s
ip link add eth0 netns %[1]s type veth peer name eth0 netns %[2]s
ip -n %[1]s addr add %[3]s/24 dev eth0
ip -n %[1]s addr add %[4]s/64 dev eth0 nodad
ip -n %[2]s addr add %[5]s/24 dev eth0
ip -n %[2]s addr add %[6]s/64 dev eth0 nodad
ip -n %[1]s link set lo up
ip -n %[2]s link set lo up
ip -n %[1]s link set eth0 up
ip -n %[2]s link set eth0 up
`, s, c, ServerIP4, ServerIP6, ClientIP4, ClientIP6)
	for i, h := range l.Servers[1:] {
		i++
		srv, cli := FleetIP4(i), FleetIP4(i).Next()
		script += fmt.Sprintf(`ip netns add %[1]s
ip link add eth%[3]d netns %[2]s type veth peer name eth0 netns %[1]s
ip -n %[1]s addr add %[4]s/28 dev eth0
ip -n %[2]s addr add %[5]s/28 dev eth%[3]d
ip -n %[1]s link set lo up
ip -n %[1]s link set eth0 up
ip -n %[2]s link set eth%[3]d up
`, h.Name, c, i, srv, cli)
	}
	if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("building namespaces: %w: %s", err, out)
	}
	// The veth carrier is up once both ends are; check rather than hope.
	deadline := time.Now().Add(2 * time.Second)
	for i := range l.Servers {
		for {
			dev := fmt.Sprintf("eth%d", i)
			out, _ := exec.Command("ip", "-n", c, "link", "show", dev).Output()
			if bytes.Contains(out, []byte("LOWER_UP")) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("veth %s of %s not up: %s", dev, c, out)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

//go:embed seed_listener.sh
var seedListener string

// seedFunction returns the seed's portKnockListener with the values of its
// seven assignment lines replaced by the lab's.
func (o Options) seedFunction() (string, error) {
	if len(o.Sequence) != 4 {
		return "", fmt.Errorf("the seed's portKnockListener takes exactly 4 bursts, the lab's sequence has %d: use a generated rule script", len(o.Sequence))
	}
	values := map[string]string{
		"KNOCKPORT":   strconv.Itoa(o.KnockPort),
		"SECUREPORT":  strconv.Itoa(o.SecurePort),
		"KNOCKWINDOW": strconv.Itoa(o.Window),
	}
	for i := 0; i < 4; i++ {
		values[fmt.Sprintf("SEQUENCE%d", i+1)] = o.Sequence[i : i+1]
	}
	lines := strings.Split(seedListener, "\n")
	for i, line := range lines {
		name, _, ok := strings.Cut(strings.TrimSpace(line), "=")
		if v, want := values[name]; ok && want {
			lines[i] = "  " + name + "=" + v
			delete(values, name)
		}
	}
	if len(values) != 0 {
		return "", fmt.Errorf("seed_listener.sh lacks assignments for %v", values)
	}
	return strings.Join(lines, "\n"), nil
}

// applyFirewall installs the base firewall and the knock listener in the
// server namespace, for IPv4 and IPv6.
func (l *Lab) applyFirewall() error {
	for i, h := range l.Servers {
		o := l.Opts
		o.Sequence = o.sequence(i)
		var listener string
		switch o.Listener {
		case "seed":
			fn, err := o.seedFunction()
			if err != nil {
				return err
			}
			listener = fn + "\nportKnockListener INPUT >/dev/null\n"
		case "none":
			listener = fmt.Sprintf("$IPTABLES -A INPUT -p tcp --dport %d -j ACCEPT\n", o.SecurePort)
		default:
			listener = o.Listener + "\n"
		}
		if err := applyFirewallTo(h, o, FleetIP4(i), listener); err != nil {
			return err
		}
	}
	return nil
}

// applyFirewallTo applies the firewall of options o to server h, whose
// IPv4 address is ip4 (IPv6 is the first server's only).
func applyFirewallTo(h *Host, o Options, ip4 netip.Addr, listener string) error {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, fam := range []struct{ cmd, icmp, server string }{
		{"iptables", "icmp", ip4.String()},
		{"ip6tables", "ipv6-icmp", "[" + ServerIP6.String() + "]"},
	} {
		fmt.Fprintf(&b, `IPTABLES=%[1]s CHAIN=INPUT KNOCKPORT=%[3]d SECUREPORT=%[4]d KNOCKWINDOW=%[5]d SEQUENCE=%[6]s
export IPTABLES CHAIN KNOCKPORT SECUREPORT KNOCKWINDOW SEQUENCE
$IPTABLES -P INPUT DROP
$IPTABLES -A INPUT -i lo -j ACCEPT
$IPTABLES -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
$IPTABLES -A INPUT -p %[2]s -j ACCEPT
`, fam.cmd, fam.icmp, o.KnockPort, o.SecurePort, o.Window, o.Sequence)
		if o.DNAT {
			fmt.Fprintf(&b, `$IPTABLES -t mangle -A PREROUTING -i eth0 -p tcp --dport %[1]d -j DROP
$IPTABLES -t nat -A PREROUTING -i eth0 -p tcp --dport %[2]d -j DNAT --to-destination %[3]s:%[1]d
`, o.SecurePort, o.KnockPort, fam.server)
		}
		b.WriteString("(\n" + listener + ")\n")
	}
	cmd := exec.Command("ip", "netns", "exec", h.Name, "bash", "-c", b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("applying the firewall: %w: %s", err, out)
	}
	return nil
}

// onTeardown registers f to run at teardown, before the namespaces go.
func (l *Lab) onTeardown(f func()) {
	l.mu.Lock()
	l.cleanups = append(l.cleanups, f)
	l.mu.Unlock()
}

func (l *Lab) teardown() {
	l.mu.Lock()
	fs := l.cleanups
	l.cleanups = nil
	l.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	for _, h := range append([]*Host{l.Client}, l.Servers...) {
		// knockssh's run directory for the namespace (its locks, a pending
		// install), named by the namespace's inode.
		if fi, err := os.Stat(filepath.Join("/run/netns", h.Name)); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				os.RemoveAll(fmt.Sprintf("/run/knockssh/net-%d", st.Ino))
			}
		}
		deleteNamespace(h.Name)
	}
}

// deleteNamespace kills what still runs in the namespace and deletes it.
func deleteNamespace(name string) {
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
	}
	exec.Command("ip", "netns", "del", name).Run()
}

// sweep deletes the namespaces of lab processes that no longer exist.
func sweep() {
	entries, err := os.ReadDir("/var/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, "ks")
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue
		}
		deleteNamespace(name)
	}
}

// Require fails (when CI is set) or skips tb unless the lab can run: root,
// ip, iptables, ip6tables and bash, plus the extras named in what ("sshd",
// "tcpdump", "ssh", "scp", "rsync", ...).
func Require(tb testing.TB, what ...string) {
	tb.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	pkgs := map[string]string{
		"ip": "iproute2", "iptables": "iptables", "ip6tables": "iptables", "bash": "bash",
		"sshd": "openssh-server", "ssh-keygen": "openssh-client", "ssh": "openssh-client",
		"scp": "openssh-client", "sftp": "openssh-client", "tcpdump": "tcpdump", "rsync": "rsync",
		"git": "git", "tmux": "tmux", "ssh-agent": "openssh-client",
		"ansible": "ansible-core", "ansible-playbook": "ansible-core",
		"nft": "nftables", "iptables-legacy": "iptables", "netfilter-persistent": "iptables-persistent",
	}
	bins := append([]string{"ip", "iptables", "ip6tables", "bash"}, what...)
	if contains(what, "sshd") {
		bins = append(bins, "ssh-keygen")
	}
	install := map[string]bool{}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if _, err := os.Stat("/usr/sbin/" + b); err == nil {
				continue
			}
			missing = append(missing, b)
			if p := pkgs[b]; p != "" {
				install[p] = true
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "lab needs " + strings.Join(missing, ", ")
	if len(install) > 0 {
		var p []string
		for k := range install {
			p = append(p, k)
		}
		msg += " (apt-get install " + strings.Join(p, " ") + ")"
	}
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg + "; set CI=true to make this a failure")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
