package sshclient

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrHostKey is the error, wrapped, of a host key the native client does
// not accept: unknown under StrictHostKeyChecking yes, refused at the
// prompt, changed or revoked.
var ErrHostKey = errors.New("host key verification failed")

// hostKeys checks the server's host key against the known_hosts files
// under the StrictHostKeyChecking policy, as ssh does.
type hostKeys struct {
	h      *HostConfig
	name   string // the known_hosts name: host, [host]:port, or HostKeyAlias as given
	prompt func(string, bool) (string, error)
	stderr io.Writer
	quiet  bool
	cb     ssh.HostKeyCallback // nil when no known_hosts file exists
	// known are the plain keys known for the host; cas the
	// @cert-authority entries whose patterns match it.
	known, cas []knownhosts.KnownKey
	// caLines holds the file:line of every @cert-authority entry:
	// x/crypto's KeyError.Want lists them with the plain keys.
	caLines map[string]bool
}

// knownHostsName returns the name under which h's host keys are looked up
// in and written to the known_hosts files, as ssh's
// get_hostfile_hostname_ipaddr: HostKeyAlias as given, else the host name,
// with [ ]:port when the port is not 22.
func knownHostsName(h *HostConfig) string {
	if h.HostKeyAlias != "" {
		return h.HostKeyAlias
	}
	return knownhosts.Normalize(net.JoinHostPort(strings.Trim(h.HostName, "[]"), strconv.Itoa(h.Port)))
}

// caLineKey identifies a known_hosts entry by file and line.
func caLineKey(file string, line int) string { return file + "\x00" + strconv.Itoa(line) }

// scanCALines returns the file:line of each @cert-authority entry in
// files, numbering lines as the knownhosts package does.
func scanCALines(files []string) (map[string]bool, error) {
	lines := map[string]bool{}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			f := bytes.Fields(sc.Bytes())
			if len(f) > 0 && string(f[0]) == "@cert-authority" {
				lines[caLineKey(name, n)] = true
			}
		}
	}
	return lines, nil
}

// plainKeys splits keys into the plain host keys and the
// @cert-authority entries.
func (c *hostKeys) plainKeys(keys []knownhosts.KnownKey) (plain, cas []knownhosts.KnownKey) {
	for _, k := range keys {
		if c.caLines[caLineKey(k.Filename, k.Line)] {
			cas = append(cas, k)
		} else {
			plain = append(plain, k)
		}
	}
	return plain, cas
}

// newHostKeys reads the known_hosts files of h.
func newHostKeys(h *HostConfig, prompt func(string, bool) (string, error), stderr io.Writer, quiet bool) (*hostKeys, error) {
	c := &hostKeys{h: h, prompt: prompt, stderr: stderr, quiet: quiet, name: knownHostsName(h)}
	if c.stderr == nil {
		c.stderr = io.Discard
	}
	var files []string
	for _, f := range slices.Concat(h.UserKnownHostsFiles, h.GlobalKnownHostsFiles) {
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return c, nil
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, err
	}
	c.cb = cb
	if c.caLines, err = scanCALines(files); err != nil {
		return nil, err
	}
	// The keys known for the host: ask about a key that cannot be known.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var ke *knownhosts.KeyError
	if errors.As(c.callback(probe), &ke) {
		c.known, c.cas = c.plainKeys(ke.Want)
	}
	return c, nil
}

// callback runs the known_hosts check for key.
func (c *hostKeys) callback(key ssh.PublicKey) error {
	if c.cb == nil {
		return &knownhosts.KeyError{}
	}
	return c.cb(c.lookupAddr(), &net.TCPAddr{IP: net.IPv4zero, Port: c.h.Port}, key)
}

// lookupAddr is the address the knownhosts package matches as c.name:
// with HostKeyAlias, the alias on port 22, which known_hosts writes
// without [ ]:port.
func (c *hostKeys) lookupAddr() string {
	if c.h.HostKeyAlias != "" {
		return net.JoinHostPort(c.h.HostKeyAlias, "22")
	}
	return net.JoinHostPort(strings.Trim(c.h.HostName, "[]"), strconv.Itoa(c.h.Port))
}

// algorithms returns the host key algorithms to offer: the certificate
// ones first when a @cert-authority entry matches the host, as ssh does,
// then those of the key types already known for the host, so that a
// server offering another type first is not reported as changed, then
// the others. Only algorithms x/crypto supports by default are offered: a
// known DSA key does not bring ssh-dss back.
func (c *hostKeys) algorithms() []string {
	if len(c.known) == 0 && len(c.cas) == 0 {
		return nil
	}
	supported := ssh.SupportedAlgorithms().HostKeys
	var algos []string
	if len(c.cas) > 0 {
		for _, a := range supported {
			if strings.Contains(a, "-cert-v01@openssh.com") {
				algos = append(algos, a)
			}
		}
	}
	for _, k := range c.known {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if slices.Contains(supported, a) && !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	for _, a := range supported {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}

// algorithmsFor returns the host key algorithms that produce keys of
// type typ.
func algorithmsFor(typ string) []string {
	switch typ {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01}
	}
	return []string{typ}
}

// keyName is ssh's name for a key type in its messages: ED25519, ECDSA,
// RSA.
func keyName(key ssh.PublicKey) string {
	t := key.Type()
	if c, ok := key.(*ssh.Certificate); ok {
		t = c.Key.Type()
	}
	switch {
	case strings.Contains(t, "ed25519"):
		return "ED25519"
	case strings.Contains(t, "ecdsa"):
		return "ECDSA"
	case strings.Contains(t, "rsa"):
		return "RSA"
	}
	return strings.ToUpper(t)
}

// check is the ssh.HostKeyCallback.
func (c *hostKeys) check(_ string, remote net.Addr, key ssh.PublicKey) error {
	var re *knownhosts.RevokedError
	if cert, ok := key.(*ssh.Certificate); ok {
		// A certificate signed by a @revoked CA is refused, as by ssh,
		// before anything else: no fallback to the plain key.
		if errors.As(c.callback(cert.SignatureKey), &re) {
			return c.revoked(key, re, "certificate authority key")
		}
		// x/crypto's knownhosts callback checks a certificate with an
		// ssh.CertChecker whose IsHostAuthority are the @cert-authority
		// entries matching the host: principal, validity and
		// revocation included.
		if err := c.callback(key); err == nil {
			return nil
		}
		// No CA vouches for it: check the plain key, as ssh does.
		key = cert.Key
	}
	err := c.callback(key)
	var ke *knownhosts.KeyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return c.revoked(key, re, "host key")
	case !errors.As(err, &ke):
		return fmt.Errorf("%w: %w", ErrHostKey, err)
	}
	// @cert-authority entries are not host keys: a CA key of the type of
	// key is no reason to report a change.
	known, _ := c.plainKeys(ke.Want)
	for _, k := range known {
		if k.Key.Type() == key.Type() {
			return c.changed(key, k)
		}
	}
	return c.unknown(remote, key, known)
}

// revoked refuses key, whose what (host key, certificate authority key)
// is marked @revoked, loudly, as ssh does.
func (c *hostKeys) revoked(key ssh.PublicKey, re *knownhosts.RevokedError, what string) error {
	fmt.Fprintf(c.stderr, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"+
		"@       WARNING: REVOKED HOST KEY DETECTED!               @\n"+
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"+
		"The %s %s for %s is marked as revoked (%s:%d).\n"+
		"This could mean that a stolen key is being used to impersonate this host.\n",
		keyName(key), what, c.name, re.Revoked.Filename, re.Revoked.Line)
	return fmt.Errorf("%w: the %s %s of %s is revoked in %s:%d", ErrHostKey, keyName(key), what, c.name, re.Revoked.Filename, re.Revoked.Line)
}

// changed refuses a host key that differs from the one known for its
// type, loudly, as ssh does.
func (c *hostKeys) changed(key ssh.PublicKey, was knownhosts.KnownKey) error {
	add := was.Filename
	if len(c.h.UserKnownHostsFiles) > 0 {
		add = c.h.UserKnownHostsFiles[0]
	}
	fmt.Fprintf(c.stderr, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"+
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"+
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"+
		"IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"+
		"Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n"+
		"It is also possible that a host key has just been changed.\n"+
		"The fingerprint for the %s key sent by the remote host is\n%s.\n"+
		"Please contact your system administrator.\n"+
		"Add correct host key in %s to get rid of this message.\n"+
		"Offending %s key in %s:%d\n",
		keyName(key), ssh.FingerprintSHA256(key), add, keyName(was.Key), was.Filename, was.Line)
	if c.h.StrictHostKeyChecking == "yes" {
		fmt.Fprintf(c.stderr, "Host key for %s has changed and you have requested strict checking.\n", c.name)
	} else {
		fmt.Fprintf(c.stderr, "Host key for %s has changed; the native client never connects to a host whose key has changed.\n", c.name)
	}
	fmt.Fprintf(c.stderr, "Host key verification failed.\n")
	return fmt.Errorf("%w: the %s host key of %s has changed (offending key in %s:%d)", ErrHostKey, keyName(key), c.name, was.Filename, was.Line)
}

// unknown handles a host key not known yet (others keys of another type
// may be): StrictHostKeyChecking yes refuses it, accept-new and no add
// it, ask asks on the terminal.
func (c *hostKeys) unknown(remote net.Addr, key ssh.PublicKey, others []knownhosts.KnownKey) error {
	fp := ssh.FingerprintSHA256(key)
	switch c.h.StrictHostKeyChecking {
	case "yes":
		fmt.Fprintf(c.stderr, "No %s host key is known for %s and you have requested strict checking.\nHost key verification failed.\n", keyName(key), c.name)
		return fmt.Errorf("%w: no %s host key is known for %s and StrictHostKeyChecking is yes", ErrHostKey, keyName(key), c.name)
	case "ask":
		if c.prompt == nil {
			fmt.Fprintf(c.stderr, "Host key verification failed.\n")
			return fmt.Errorf("%w: no %s host key is known for %s, and there is no terminal to ask on", ErrHostKey, keyName(key), c.name)
		}
		ip := ""
		if ta, ok := remote.(*net.TCPAddr); ok {
			ip = ta.IP.String()
		}
		var q strings.Builder
		fmt.Fprintf(&q, "The authenticity of host '%s (%s)' can't be established.\n%s key fingerprint is %s.\n", c.name, ip, keyName(key), fp)
		if len(others) > 0 {
			fmt.Fprintf(&q, "Keys of other types are already known for this host, such as the %s key in %s:%d.\n", keyName(others[0].Key), others[0].Filename, others[0].Line)
		}
		q.WriteString("Are you sure you want to continue connecting (yes/no/[fingerprint])? ")
		question := q.String()
		for {
			answer, err := c.prompt(question, true)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrHostKey, err)
			}
			answer = strings.TrimSpace(answer)
			if strings.EqualFold(answer, "yes") || answer == fp {
				break
			}
			if strings.EqualFold(answer, "no") {
				fmt.Fprintf(c.stderr, "Host key verification failed.\n")
				return fmt.Errorf("%w: the host key of %s was not accepted", ErrHostKey, c.name)
			}
			question = "Please type 'yes', 'no' or the fingerprint: "
		}
	}
	if err := c.add(key); err != nil {
		fmt.Fprintf(c.stderr, "Failed to add the host to the list of known hosts (%v).\n", err)
		return nil
	}
	if !c.quiet {
		fmt.Fprintf(c.stderr, "Warning: Permanently added '%s' (%s) to the list of known hosts.\n", c.name, keyName(key))
	}
	return nil
}

// add appends key for the host to the first user known_hosts file.
func (c *hostKeys) add(key ssh.PublicKey) error {
	if len(c.h.UserKnownHostsFiles) == 0 {
		return errors.New("no UserKnownHostsFile")
	}
	path := c.h.UserKnownHostsFiles[0]
	// knownhosts.Line would add a port to a HostKeyAlias: write c.name.
	name := c.name
	if c.h.HashKnownHosts {
		name = knownhosts.HashHostname(c.name)
	}
	line := name + " " + strings.SplitN(knownhosts.Line([]string{"x"}, key), " ", 2)[1]
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	// Start on a line of its own if the file does not end with one.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		if r, err := os.Open(path); err == nil {
			b := make([]byte, 1)
			if _, err := r.ReadAt(b, fi.Size()-1); err == nil && b[0] != '\n' {
				line = "\n" + line
			}
			r.Close()
		}
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
