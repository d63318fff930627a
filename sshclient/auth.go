package sshclient

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/knockssh/knockssh/internal/sshconfig"
)

// authMethods returns the authentication methods to try, in ssh's order:
// public keys (the agent's, then the identity files', each certificate
// before its key), keyboard-interactive, password. closeAgent closes the
// connection to the agent.
func authMethods(h *HostConfig, o *Options) (methods []ssh.AuthMethod, closeAgent func()) {
	closeAgent = func() {}
	prompt := o.prompter(h)
	if h.PubkeyAuthentication {
		var agentConn io.Closer
		methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			var signers []ssh.Signer
			agentConn, signers = publicKeySigners(h, o, prompt)
			return signers, nil
		}))
		closeAgent = func() {
			if agentConn != nil {
				agentConn.Close()
			}
		}
	}
	if prompt == nil {
		return methods, closeAgent
	}
	tries := max(h.NumberOfPasswordPrompts, 1)
	if h.KbdInteractiveAuthentication {
		methods = append(methods, ssh.RetryableAuthMethod(ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			if name != "" || instruction != "" {
				if o.Stderr != nil {
					fmt.Fprintln(o.Stderr, printable(strings.TrimSpace(strings.Join([]string{name, instruction}, "\n"))))
				}
			}
			answers := make([]string, len(questions))
			for i, q := range questions {
				a, err := prompt(printable(q), echos[i])
				if err != nil {
					return nil, err
				}
				answers[i] = a
			}
			return answers, nil
		}), tries))
	}
	if h.PasswordAuthentication {
		methods = append(methods, ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) {
			return prompt(fmt.Sprintf("%s@%s's password: ", h.User, h.HostName), false)
		}), tries))
	}
	return methods, closeAgent
}

// publicKeySigners returns the keys to offer: the agent's first (only
// those of the identity files with IdentitiesOnly), then the identity
// files' that the agent does not hold, each preceded by its certificate
// when there is one.
func publicKeySigners(h *HostConfig, o *Options, prompt func(string, bool) (string, error)) (io.Closer, []ssh.Signer) {
	type identity struct {
		path   string
		pub    ssh.PublicKey // nil when unknown before decryption
		signer ssh.Signer
	}
	var ids []identity
	for _, path := range h.IdentityFiles {
		s, pub, err := loadIdentity(path, prompt, h.NumberOfPasswordPrompts)
		if err != nil {
			var perm *sshconfig.KeyPermError
			if errors.As(err, &perm) && o.Stderr != nil && !o.quiet {
				// As ssh, which ignores the key and goes on.
				fmt.Fprintf(o.Stderr, "Warning: %v; this private key will be ignored (%s).\n", perm, perm.Hint())
			} else if errors.Is(err, fs.ErrNotExist) && o.Stderr != nil && !o.quiet {
				fmt.Fprintf(o.Stderr, "Warning: Identity file %s not accessible: %v.\n", path, errors.Unwrap(err))
			} else if !errors.Is(err, fs.ErrNotExist) {
				o.debugf("Identity file %s: %v", path, err)
			}
			continue
		}
		ids = append(ids, identity{path: path, pub: pub, signer: s})
	}
	var certs []*ssh.Certificate
	for _, path := range h.CertificateFiles {
		if c := loadCert(path); c != nil {
			certs = append(certs, c)
		} else {
			o.debugf("Certificate file %s: cannot read a certificate", path)
		}
	}
	withCerts := func(s ssh.Signer, path string) []ssh.Signer {
		var out []ssh.Signer
		cands := certs
		if path != "" {
			if c := loadCert(path + "-cert.pub"); c != nil {
				cands = append([]*ssh.Certificate{c}, cands...)
			}
		}
		for _, c := range cands {
			if bytes.Equal(c.Key.Marshal(), s.PublicKey().Marshal()) {
				if cs, err := ssh.NewCertSigner(c, s); err == nil {
					out = append(out, cs)
				}
			}
		}
		return append(out, s)
	}
	var signers []ssh.Signer
	inAgent := map[string]bool{}
	var conn io.Closer
	if h.IdentityAgent != "" {
		c, err := dialAgent(h.IdentityAgent)
		if err != nil {
			o.debugf("Cannot connect to the agent at %s: %v", h.IdentityAgent, err)
		} else {
			conn = c
			as, err := agent.NewClient(c).Signers()
			if err != nil {
				o.debugf("Agent: %v", err)
			}
			for _, s := range as {
				blob := string(s.PublicKey().Marshal())
				if h.IdentitiesOnly {
					wanted := false
					for _, id := range ids {
						if id.pub != nil && string(id.pub.Marshal()) == blob {
							wanted = true
						}
					}
					if !wanted {
						continue
					}
				}
				inAgent[blob] = true
				o.debugf("Will offer the agent's %s key %s.", keyName(s.PublicKey()), ssh.FingerprintSHA256(s.PublicKey()))
				signers = append(signers, withCerts(s, "")...)
			}
		}
	}
	for _, id := range ids {
		if id.pub != nil && inAgent[string(id.pub.Marshal())] {
			continue
		}
		o.debugf("Will offer the key %s.", id.path)
		signers = append(signers, withCerts(id.signer, id.path)...)
	}
	return conn, signers
}

// loadIdentity reads a private key file, refusing one of the user's that
// others may read ([sshconfig.CheckKey], as ssh). An encrypted key is
// decrypted only when the server accepts its public key (taken from the
// key file or path.pub), after asking for its passphrase; when its public
// key is nowhere to be found, the passphrase is asked for at once.
func loadIdentity(path string, prompt func(string, bool) (string, error), tries int) (ssh.Signer, ssh.PublicKey, error) {
	data, err := readKey(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	if err == nil {
		return s, s.PublicKey(), nil
	}
	var pm *ssh.PassphraseMissingError
	if !errors.As(err, &pm) {
		return nil, nil, err
	}
	pub := pm.PublicKey
	if pub == nil {
		if b, err := os.ReadFile(path + ".pub"); err == nil {
			pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
		}
	}
	decrypt := func() (ssh.Signer, error) {
		if prompt == nil {
			return nil, fmt.Errorf("%s is passphrase protected and there is no terminal to ask for it on", path)
		}
		for range max(tries, 1) {
			pass, err := prompt(fmt.Sprintf("Enter passphrase for key '%s': ", path), false)
			if err != nil {
				return nil, err
			}
			if pass == "" {
				return nil, fmt.Errorf("no passphrase given for %s", path)
			}
			s, err := ssh.ParsePrivateKeyWithPassphrase(data, []byte(pass))
			if err == nil {
				return s, nil
			}
			if !errors.Is(err, x509.IncorrectPasswordError) {
				return nil, err
			}
		}
		return nil, fmt.Errorf("wrong passphrase for %s", path)
	}
	if pub == nil {
		s, err := decrypt()
		if err != nil {
			return nil, nil, err
		}
		return s, s.PublicKey(), nil
	}
	return &lazySigner{pub: pub, load: decrypt}, pub, nil
}

// readKey reads a private key file that passes [sshconfig.CheckKey].
func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := sshconfig.CheckKey(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// loadCert reads an OpenSSH certificate file, or returns nil.
func loadCert(path string) *ssh.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil
	}
	c, _ := k.(*ssh.Certificate)
	return c
}

// A lazySigner holds an encrypted key, decrypted on its first signature.
type lazySigner struct {
	pub  ssh.PublicKey
	load func() (ssh.Signer, error)
	once sync.Once
	s    ssh.Signer
	err  error
}

func (l *lazySigner) signer() (ssh.Signer, error) {
	l.once.Do(func() { l.s, l.err = l.load() })
	return l.s, l.err
}

func (l *lazySigner) PublicKey() ssh.PublicKey { return l.pub }

func (l *lazySigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.signer()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (l *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := l.signer()
	if err != nil {
		return nil, err
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		if algorithm != "" && algorithm != l.pub.Type() {
			return nil, fmt.Errorf("ssh: key cannot sign with %s", algorithm)
		}
		return s.Sign(rand, data)
	}
	return as.SignWithAlgorithm(rand, data, algorithm)
}
