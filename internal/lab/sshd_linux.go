package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// SSH describes the lab's sshd and the client files that reach it.
type SSH struct {
	// Port is the port sshd listens on (the lab's SecurePort).
	Port int
	// User is the login user (root).
	User string
	// IdentityFile is the client's private key (ed25519, no passphrase),
	// authorized by the sshd.
	IdentityFile string
	// KnownHosts holds the server's host key for 192.0.2.1, 2001:db8::1 and
	// their [addr]:port forms.
	KnownHosts string
	// Config is an ssh_config for the client: Host lab is 192.0.2.1, Host
	// lab6 is 2001:db8::1, Host fleetI is FleetIP4(I) for the other
	// servers, all with the port, user, key and known hosts above,
	// BatchMode and StrictHostKeyChecking yes.
	Config string
	// HostKey is the server's public host key line.
	HostKey string
	// Log is sshd's log file.
	Log string
}

func (l *Lab) startSSHD() error {
	dir := l.Dir
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	clientKey := filepath.Join(dir, "id_ed25519")
	for _, k := range []string{hostKey, clientKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "knockssh-lab", "-f", k).CombinedOutput(); err != nil {
			return fmt.Errorf("ssh-keygen: %w: %s", err, out)
		}
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return err
	}
	hostPub := strings.Join(strings.Fields(string(pub))[:2], " ")
	port := l.Opts.SecurePort
	s := &SSH{
		Port:         port,
		User:         "root",
		IdentityFile: clientKey,
		KnownHosts:   filepath.Join(dir, "known_hosts"),
		Config:       filepath.Join(dir, "ssh_config"),
		HostKey:      hostPub,
		Log:          filepath.Join(dir, "sshd.log"),
	}
	var kh strings.Builder
	addrs := []string{ServerIP4.String(), ServerIP6.String()}
	var fleet strings.Builder
	for i := 1; i < len(l.Servers); i++ {
		addrs = append(addrs, FleetIP4(i).String())
		fmt.Fprintf(&fleet, "Host fleet%d\n  HostName %s\n", i, FleetIP4(i))
	}
	for _, a := range addrs {
		fmt.Fprintf(&kh, "%s %s\n[%s]:%d %s\n", a, hostPub, a, port, hostPub)
	}
	if err := os.WriteFile(s.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		return err
	}
	authorized, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		return err
	}
	authFile := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authFile, authorized, 0o600); err != nil {
		return err
	}
	sshdConfig := filepath.Join(dir, "sshd_config")
	cfg := fmt.Sprintf(`Port %d
ListenAddress 0.0.0.0
ListenAddress ::
HostKey %s
AuthorizedKeysFile %s
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PidFile none
LogLevel VERBOSE
MaxStartups 100
MaxSessions 100
UseDNS no
Subsystem sftp internal-sftp
# bash -c at level 2 reads no ~/.bashrc: root's rc files are the machine's
SetEnv SHLVL=1
`, port, hostKey, authFile)
	if err := os.WriteFile(sshdConfig, []byte(cfg), 0o600); err != nil {
		return err
	}
	client := fmt.Sprintf(`Host lab
  HostName %s
Host lab6
  HostName %s
`+fleet.String()+`Host *
  Port %d
  User root
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
`, ServerIP4, ServerIP6, port, clientKey, s.KnownHosts)
	if err := os.WriteFile(s.Config, []byte(client), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return err
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	if out, err := exec.Command(sshd, "-t", "-f", sshdConfig).CombinedOutput(); err != nil {
		return fmt.Errorf("sshd -t: %w: %s", err, out)
	}
	for i, h := range l.Servers {
		log := s.Log
		if i > 0 {
			log = filepath.Join(dir, fmt.Sprintf("sshd-%d.log", i))
		}
		if err := l.runSSHD(h, sshd, sshdConfig, log, port); err != nil {
			return err
		}
	}
	l.SSH = s
	return nil
}

// runSSHD starts sshd with config in server h, logging to log, and waits
// until it accepts on port.
func (l *Lab) runSSHD(h *Host, sshd, sshdConfig, log string, port int) error {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := h.Command(ctx, sshd, "-D", "-f", sshdConfig, "-E", log)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return fmt.Errorf("starting sshd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	l.onTeardown(func() {
		cancel()
		<-exited
	})
	// Ready when it accepts on the server's loopback (lo is accepted).
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			text, _ := os.ReadFile(log)
			return fmt.Errorf("sshd in %s exited: %v: %s", h.Name, err, text)
		default:
		}
		err := h.Do(func() error {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd not accepting after 10s: %w", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
