package sshclient

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// dsaKey is an ssh-dss public key, for a known_hosts line.
const dsaKey = "ssh-dss AAAAB3NzaC1kc3MAAACBAIGGXJ6aVBbrtUgwIFJPw+VbwLJqmIw+p19EnF6d3piWRaFgK6axln2S2qq/OMGceU7pW9LdZQt8na/IG5/PMY/xcBkRuB4NEuQV00QZEUB+N1fKccEoyQr+3MhiL1SU6Ny+NimcK2wnbxCxokhKG8yhspb4b5h7wCnT6Qcfgt+xAAAAFQCh5zbN70dH3e5oMnjsH0WF8zWAfQAAAIBCwz43VIbYw/Xc1ygXcGzwFHxRdDjXK91ftT6nFZ9kCNDEqKtUKYpfdh34jC+un250lALXpMEDEWshZkmKrCiQXNzu60e+jG3EBii9HLSVI10nrsZrLxKEbX9Trh0TZh9/ZCfLgxpfYADVpmQuk2mxmU3NbvBpb0ArkvkJX5SKOgAAAIB37Ru0gr7AW5/qKu1ZANGIAicmcvXDE70evTLsNAG0xgOVy563XdrWBJuhjQB9F11+05QLY+eYSyXTyXFp2LghLqIMY2khC+9u3gQOBARPq3ifptUMlTFmE2pwa8oPU6DVTo5TzXg6ZXqDJ9Y2dWU97Y4JOA3vCju7mWjW50CTLA=="

// hostCert returns a host certificate for pub, for principal, signed by ca.
func hostCert(t *testing.T, pub ssh.PublicKey, principal string, ca ssh.Signer) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{Key: pub, CertType: ssh.HostCert, ValidPrincipals: []string{principal}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return cert
}

// hostKeysWith writes a known_hosts file and returns the hostKeys of h
// with it, and the file.
func hostKeysWith(t *testing.T, content string, h HostConfig) (*hostKeys, string, *bytes.Buffer) {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	h.UserKnownHostsFiles = []string{kh}
	var stderr bytes.Buffer
	hk, err := newHostKeys(&h, nil, &stderr, false)
	if err != nil {
		t.Fatal(err)
	}
	return hk, kh, &stderr
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHostCertRevokedCA: a host certificate signed by a @revoked CA is
// refused loudly, as by ssh, even under accept-new and whether or not a
// @cert-authority line names the CA: no trust on first use of its plain
// key. A certificate of a trusted CA is accepted.
func TestHostCertRevokedCA(t *testing.T) {
	ca, caPub := newKey(t)
	_, hostPub := newKey(t)
	cert := hostCert(t, hostPub, "192.0.2.1", ca)
	caLine := "@cert-authority 192.0.2.1 " + strings.SplitN(knownhosts.Line([]string{"x"}, caPub), " ", 2)[1] + "\n"
	revoked := "@revoked * " + strings.SplitN(knownhosts.Line([]string{"x"}, caPub), " ", 2)[1] + "\n"
	h := HostConfig{HostName: "192.0.2.1", Port: 22, StrictHostKeyChecking: "accept-new"}
	for name, content := range map[string]string{"revoked only": revoked, "CA and revoked": caLine + revoked} {
		t.Run(name, func(t *testing.T) {
			hk, kh, stderr := hostKeysWith(t, content, h)
			err := hk.check("", &net.TCPAddr{}, cert)
			if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "certificate authority key") || !strings.Contains(err.Error(), "revoked") {
				t.Errorf("a certificate of a revoked CA: %v, want refused as revoked", err)
			}
			if !strings.Contains(stderr.String(), "REVOKED HOST KEY DETECTED") {
				t.Errorf("stderr = %q, want the revoked warning", stderr)
			}
			if got := readFile(t, kh); got != content {
				t.Errorf("known_hosts changed to %q", got)
			}
		})
	}
	hk, kh, _ := hostKeysWith(t, caLine, h)
	if err := hk.check("", &net.TCPAddr{}, cert); err != nil {
		t.Errorf("a certificate of a trusted CA: %v", err)
	}
	if got := readFile(t, kh); got != caLine {
		t.Errorf("known_hosts changed to %q", got)
	}
}

// TestHostCertAuthorityLines: a @cert-authority line is no known host
// key: a host with only a CA line of the type the server offers is
// unknown, not changed; a CA key never counts as the key that changed;
// and the certificate algorithms are offered first.
func TestHostCertAuthorityLines(t *testing.T) {
	_, caPub := newKey(t)
	_, hostPub := newKey(t)
	caLine := "@cert-authority 192.0.2.1 " + strings.SplitN(knownhosts.Line([]string{"x"}, caPub), " ", 2)[1] + "\n"
	h := HostConfig{HostName: "192.0.2.1", Port: 22, StrictHostKeyChecking: "accept-new"}
	hk, kh, stderr := hostKeysWith(t, caLine, h)
	if len(hk.known) != 0 || len(hk.cas) != 1 {
		t.Errorf("known = %v, cas = %v; want no known key and one CA", hk.known, hk.cas)
	}
	algos := hk.algorithms()
	if len(algos) == 0 || !strings.Contains(algos[0], "-cert-v01@openssh.com") {
		t.Errorf("algorithms = %v, want the certificate ones first", algos)
	}
	if err := hk.check("", &net.TCPAddr{}, hostPub); err != nil {
		t.Fatalf("a plain key of a host with only a CA line: %v (%s)", err, stderr)
	}
	if strings.Contains(stderr.String(), "CHANGED") || !strings.Contains(readFile(t, kh), "192.0.2.1 ssh-ed25519 ") {
		t.Errorf("want the key added as new; stderr %q, known_hosts %q", stderr, readFile(t, kh))
	}
	// A changed plain key names the plain key's line, not the CA's.
	_, other := newKey(t)
	hk, _, _ = hostKeysWith(t, readFile(t, kh), h)
	err := hk.check("", &net.TCPAddr{}, other)
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "known_hosts:2") {
		t.Errorf("a changed key: %v, want the offending key at line 2", err)
	}
}

// TestHostKeyAliasName: with HostKeyAlias, the known_hosts name is the
// alias as given, without [ ]:port, for the lookup and for the key
// added, as ssh's get_hostfile_hostname_ipaddr.
func TestHostKeyAliasName(t *testing.T) {
	_, pub := newKey(t)
	h := HostConfig{HostName: "192.0.2.1", Port: 2222, HostKeyAlias: "myalias", StrictHostKeyChecking: "accept-new"}
	hk, kh, _ := hostKeysWith(t, "", h)
	if hk.name != "myalias" {
		t.Errorf("name = %q, want myalias", hk.name)
	}
	if err := hk.check("", &net.TCPAddr{}, pub); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, kh); !strings.HasPrefix(got, "myalias ssh-ed25519 ") {
		t.Errorf("known_hosts = %q, want the alias without a port", got)
	}
	h.StrictHostKeyChecking = "yes"
	hk, _, _ = hostKeysWith(t, readFile(t, kh), h)
	if err := hk.check("", &net.TCPAddr{}, pub); err != nil {
		t.Errorf("the key written under the alias is not found: %v", err)
	}
	// An entry with [alias]:port is not the alias's.
	hk, _, _ = hostKeysWith(t, "[myalias]:2222 "+strings.SplitN(knownhosts.Line([]string{"x"}, pub), " ", 2)[1]+"\n", h)
	if err := hk.check("", &net.TCPAddr{}, pub); !errors.Is(err, ErrHostKey) {
		t.Errorf("a [myalias]:2222 entry: %v, want unknown", err)
	}
}

// TestHostKeyAlgorithmsSupported: a known DSA key does not make the client
// offer ssh-dss, which x/crypto does not support by default.
func TestHostKeyAlgorithmsSupported(t *testing.T) {
	_, pub := newKey(t)
	hk := knownHostsFor(t, "192.0.2.1 "+dsaKey+"\n192.0.2.1 "+strings.SplitN(knownhosts.Line([]string{"x"}, pub), " ", 2)[1]+"\n", "192.0.2.1", 22)
	algos := hk.algorithms()
	if slices.Contains(algos, ssh.KeyAlgoDSA) || len(algos) == 0 || algos[0] != ssh.KeyAlgoED25519 {
		t.Errorf("algorithms = %v, want ed25519 first and no %s", algos, ssh.KeyAlgoDSA)
	}
	for _, a := range algos {
		if !slices.Contains(ssh.SupportedAlgorithms().HostKeys, a) {
			t.Errorf("algorithms offer %s, which is not supported", a)
		}
	}
}
