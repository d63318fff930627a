package sshclient

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestParseForward(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "8080:localhost:80", want: "8080:localhost:80"},
		{in: "127.0.0.1:8080:10.0.0.1:80", want: "127.0.0.1:8080:10.0.0.1:80"},
		{in: "[::1]:8080:[2001:db8::5]:22", want: "[::1]:8080:[2001:db8::5]:22"},
		{in: "*:8080:host:80", want: "*:8080:host:80"},
		{in: ":8080:host:80", want: ":8080:host:80"},
		{in: "8080:host:ssh", want: "8080:host:22"},
		{in: "8080", err: "want [bind_address:]port:host:hostport (Unix sockets"},
		{in: "/tmp/sock:host:80", err: "bad port"},
		{in: "8080:host", err: "Unix sockets"},
		{in: "0:host:80", err: "bad port 0"},
		{in: "8080:host:70000", err: "bad port 70000"},
		{in: "8080::80", err: "no host"},
		{in: "8080:2001:db8::5:22", err: "put an IPv6 address in brackets"},
		{in: "[::1:8080:h:1", err: "no ']'"},
		{in: "[::1]x:8080:h:1", err: "junk after ']'"},
	} {
		f, err := parseForward(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseForward(%q) = %v, %v; want error with %q", tc.in, f, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("parseForward(%q): %v", tc.in, err)
		case tc.err == "" && f.String() != tc.want:
			t.Errorf("parseForward(%q) = %s, want %s", tc.in, f, tc.want)
		}
	}
}

func TestParseNativeArgs(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		err   string
		check func(t *testing.T, a nativeArgs)
	}{
		{args: []string{"-p", "2222", "-l", "me", "-i", "k1", "-ik2", "-F", "cfg", "-tt", "-v", "host", "-o", "Port=1", "ls", "-l"}, check: func(t *testing.T, a nativeArgs) {
			if a.opts.Port != 2222 || a.opts.User != "me" || a.opts.ConfigFile != "cfg" || a.tty != 2 || a.inv.Verbose != 1 {
				t.Errorf("got %+v", a)
			}
			if !slices.Equal(a.opts.IdentityFiles, []string{"k1", "k2"}) || !slices.Equal(a.opts.Options, []string{"Port=1"}) || !slices.Equal(a.inv.Command, []string{"ls", "-l"}) {
				t.Errorf("got %+v", a)
			}
		}},
		{args: []string{"-NT", "-L", "8080:localhost:80", "-4", "host"}, check: func(t *testing.T, a nativeArgs) {
			if !a.noCommand || !a.noTTY || !slices.Equal(a.forwards, []string{"8080:localhost:80"}) || !slices.Equal(a.opts.Options, []string{"AddressFamily inet"}) {
				t.Errorf("got %+v", a)
			}
		}},
		// The command's own options are not ssh's.
		{args: []string{"host", "ssh", "-X", "-A"}, check: func(t *testing.T, a nativeArgs) {
			if !slices.Equal(a.inv.Command, []string{"ssh", "-X", "-A"}) {
				t.Errorf("got %+v", a)
			}
		}},
		{args: []string{"-X", "host"}, err: "the native client does not support -X (X11 forwarding)"},
		{args: []string{"host", "-A"}, err: "-A (agent forwarding)"},
		{args: []string{"-vCv", "host"}, err: "-C (compression)"},
		{args: []string{"-W", "h:1", "host"}, err: "-W (stdio forwarding)"},
		{args: []string{"-L", "x", "host"}, err: "-L \"x\""},
		{args: []string{"-p"}, err: "option -p needs a value"},
		{args: []string{}, err: "no destination"},
		{args: []string{"-X"}, err: "-X (X11 forwarding)"},
	} {
		a, err := parseNativeArgs(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		tc.check(t, a)
	}
	var ue *UnsupportedError
	if _, err := parseNativeArgs([]string{"-A", "h"}); !errors.As(err, &ue) || ue.Option != "-A" {
		t.Errorf("-A gave %v, want an UnsupportedError", err)
	}
}

// TestResolveHost: -o lines first, then the config's first values, Host
// patterns, Include, skipped Match blocks, tokens, ssh's defaults.
func TestResolveHost(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("SSH_AUTH_SOCK", "/agent.sock")
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("extra.conf", "Host web\n  ServerAliveInterval 15\n  IdentityFile ~/.ssh/from_include\n")
	cfg := write("config", `Include `+filepath.Join(dir, "extra.conf")+`
Match exec "false"
  User matched
  Port 1
Host web !nope
  HostName %h.example.org
  User alice
  IdentityFile ~/.ssh/id_%r_%h
  UserKnownHostsFile ~/kh1 "~/kh 2"
  StrictHostKeyChecking accept-new
  LocalForward 8080 localhost:80
Host *
  User bob
  Port 2222
  ConnectTimeout 1m
  ForwardAgent yes
  ControlMaster auto
`)
	h, err := ResolveHost("web", &Options{ConfigFile: cfg, Options: []string{"StrictHostKeyChecking=yes", "IdentitiesOnly yes"}})
	if err != nil {
		t.Fatal(err)
	}
	want := HostConfig{
		Alias: "web", HostName: "web.example.org", Port: 2222, User: "alice",
		IdentityFiles:         []string{dir + "/.ssh/from_include", dir + "/.ssh/id_alice_web.example.org"},
		IdentitiesOnly:        true,
		IdentityAgent:         "/agent.sock",
		UserKnownHostsFiles:   []string{dir + "/kh1", dir + "/kh 2"},
		GlobalKnownHostsFiles: []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"},
		StrictHostKeyChecking: "yes",
		PubkeyAuthentication:  true, KbdInteractiveAuthentication: true, PasswordAuthentication: true,
		NumberOfPasswordPrompts: 3, ConnectTimeout: time.Minute, ServerAliveInterval: 15 * time.Second,
		ServerAliveCountMax: 3, AddressFamily: "any", RequestTTY: "auto", LogLevel: "INFO",
		LocalForwards: []string{"8080:localhost:80"},
	}
	if fmt.Sprintf("%+v", h) != fmt.Sprintf("%+v", want) {
		t.Errorf("ResolveHost:\n got %+v\nwant %+v", h, want)
	}
	// The command line's user and port win; default keys that exist.
	os.MkdirAll(filepath.Join(dir, ".ssh"), 0o700)
	write(".ssh/id_ecdsa", "")
	h, err = ResolveHost("other", &Options{ConfigFile: cfg, User: "carol", Port: 22})
	if err != nil {
		t.Fatal(err)
	}
	if h.User != "carol" || h.Port != 22 || h.HostName != "other" || !slices.Equal(h.IdentityFiles, []string{dir + "/.ssh/id_ecdsa"}) || h.StrictHostKeyChecking != "ask" {
		t.Errorf("ResolveHost(other) = %+v", h)
	}
	for _, tc := range []struct{ opt, err string }{
		{"ForwardAgent yes", "the native client does not support -o ForwardAgent"},
		{"RemoteForward 80 h:80", "the native client does not support -o RemoteForward"},
		{"ProxyJump j", "the native client does not support -o ProxyJump"},
		{"Port", "want a keyword and a value"},
		{"ServerAliveInterval soon", `-o ServerAliveInterval: ServerAliveInterval "soon": want a time`},
	} {
		if _, err := ResolveHost("web", &Options{ConfigFile: "none", Options: []string{tc.opt}}); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("-o %s: %v, want %q", tc.opt, err, tc.err)
		}
	}
	for _, opt := range []string{"ForwardAgent no", "ProxyCommand knockssh --proxy %n %h %p", "SendEnv LANG"} {
		if _, err := ResolveHost("web", &Options{ConfigFile: "none", Options: []string{opt}}); err != nil {
			t.Errorf("-o %s: %v", opt, err)
		}
	}
}

// knownHostsFor writes a known_hosts file and returns the hostKeys for
// host:port with it.
func knownHostsFor(t *testing.T, content, host string, port int) *hostKeys {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	hk, err := newHostKeys(&HostConfig{HostName: host, Port: port, UserKnownHostsFiles: []string{kh}, StrictHostKeyChecking: "yes"}, nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return hk
}

func newKey(t *testing.T) (ssh.Signer, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.PublicKey()
}

// TestHostKeyAlgorithms: the key types known for the host, hashed or
// [host]:port entries included, come first, so that a server that offers
// ECDSA first is asked for its known ED25519 key.
func TestHostKeyAlgorithms(t *testing.T) {
	_, pub := newKey(t)
	line := strings.SplitN(knownhosts.Line([]string{"x"}, pub), " ", 2)[1]
	hashed := knownhosts.HashHostname("[192.0.2.1]:2222") + " " + line + "\n"
	hk := knownHostsFor(t, "other.example ecdsa-sha2-nistp256 AAAA\n"+hashed, "192.0.2.1", 2222)
	algos := hk.algorithms()
	if len(algos) == 0 || algos[0] != ssh.KeyAlgoED25519 {
		t.Fatalf("algorithms = %v, want %s first", algos, ssh.KeyAlgoED25519)
	}
	if !slices.Contains(algos, ssh.KeyAlgoECDSA256) || len(algos) != len(slices.Compact(slices.Clone(algos))) {
		t.Errorf("algorithms = %v, want every supported one once", algos)
	}
	if err := hk.check("", &net.TCPAddr{}, pub); err != nil {
		t.Errorf("the hashed [host]:port key: %v", err)
	}
	// Port 22 does not match a [host]:2222 entry: no preference.
	if algos := knownHostsFor(t, hashed, "192.0.2.1", 22).algorithms(); algos != nil {
		t.Errorf("algorithms for an unknown host = %v, want nil (the defaults)", algos)
	}
	// A changed key names the file and line.
	_, other := newKey(t)
	err := hk.check("", &net.TCPAddr{}, other)
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "known_hosts:2") || !strings.Contains(err.Error(), "has changed") {
		t.Errorf("a changed key: %v", err)
	}
}

// TestHandshakePrompts: against x/crypto's ssh server, keyboard-interactive
// and password authentication ask through Prompt, secrets without echo,
// in ssh's order; a wrong password is asked again.
func TestHandshakePrompts(t *testing.T) {
	hostSigner, hostPub := newKey(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{"192.0.2.9:2200"}, hostPub)+"\n"), 0o600)
	for _, method := range []string{"keyboard-interactive", "password"} {
		t.Run(method, func(t *testing.T) {
			srv := &ssh.ServerConfig{}
			srv.AddHostKey(hostSigner)
			if method == "password" {
				srv.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
					if c.User() == "alice" && string(pw) == "right" {
						return nil, nil
					}
					return nil, errors.New("no")
				}
			} else {
				srv.KeyboardInteractiveCallback = func(c ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
					a, err := ch("", "", []string{"Code: ", "Password: "}, []bool{true, false})
					if err == nil && a[0] == "42" && a[1] == "right" {
						return nil, nil
					}
					return nil, errors.New("no")
				}
			}
			// A Unix socket: net.Pipe has no buffer, and both sides of
			// ssh write their version at once.
			ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cli, err := net.Dial("unix", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			srvConn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				if _, chans, reqs, err := ssh.NewServerConn(srvConn, srv); err == nil {
					go ssh.DiscardRequests(reqs)
					for range chans {
					}
				}
			}()
			var asked []string
			passwords := []string{"wrong", "right"}
			o := &Options{Prompt: func(q string, echo bool) (string, error) {
				asked = append(asked, fmt.Sprintf("%s echo=%v", q, echo))
				switch {
				case q == "Code: ":
					return "42", nil
				case strings.Contains(q, "assword"):
					p := passwords[0]
					passwords = passwords[1:]
					return p, nil
				}
				return "", errors.New("unexpected question " + q)
			}}
			h := &HostConfig{HostName: "192.0.2.9", Port: 2200, User: "alice", UserKnownHostsFiles: []string{kh},
				StrictHostKeyChecking: "yes", KbdInteractiveAuthentication: true, PasswordAuthentication: true, NumberOfPasswordPrompts: 3}
			hk, err := newHostKeys(h, nil, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := handshake(ctx, cli, h, hk, o)
			if err != nil {
				t.Fatalf("handshake: %v (asked %q)", err, asked)
			}
			c.Close()
			want := []string{"alice@192.0.2.9's password:  echo=false", "alice@192.0.2.9's password:  echo=false"}
			if method == "keyboard-interactive" {
				want = []string{"Code:  echo=true", "Password:  echo=false", "Code:  echo=true", "Password:  echo=false"}
			}
			if !slices.Equal(asked, want) {
				t.Errorf("asked %q, want %q", asked, want)
			}
		})
	}
}
