package sshclient_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/knockssh/knockssh/sshclient"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ResolveHost shows what the native client takes from an ssh config for
// an alias, without running ssh: -o options first, then the first value
// of each keyword, as ssh.
func ExampleResolveHost() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "ssh_config")
	os.WriteFile(config, []byte(`Host home
  HostName 192.0.2.1
  User alice
  StrictHostKeyChecking accept-new
Host *
  Port 2222
  User nobody
  ServerAliveInterval 30
`), 0o600)

	h, err := sshclient.ResolveHost("home", &sshclient.Options{
		ConfigFile: config,
		Options:    []string{"StrictHostKeyChecking=yes"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.User, h.HostName, h.Port, h.StrictHostKeyChecking, h.ServerAliveInterval)
	// Output: alice 192.0.2.1 2222 yes 30s
}

// DialContext returns an *ssh.Client for a host alias: the knock (when a
// knock stanza applies), the host key check and the authentication are
// those of "knockssh --native". This example needs a host: it is compiled
// but not run.
func ExampleDialContext() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := sshclient.DialContext(ctx, "homeserver", &sshclient.Options{
		Options: []string{"BatchMode yes"},
		Stderr:  os.Stderr,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()
	out, err := session.Output("uptime")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", out)
}

// DialConn returns the knocked TCP connection alone, for a program that
// runs its own ssh handshake (or any other protocol) on it. This example
// needs a host: it is compiled but not run.
func ExampleDialConn() {
	home, _ := os.UserHomeDir()
	hostKeys, err := knownhosts.New(filepath.Join(home, ".ssh", "known_hosts"))
	if err != nil {
		log.Fatal(err)
	}
	conn, err := sshclient.DialConn(context.Background(), "homeserver", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	c, chans, reqs, err := ssh.NewClientConn(conn, conn.RemoteAddr().String(), &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.Password("secret")},
		HostKeyCallback: hostKeys,
	})
	if err != nil {
		log.Fatal(err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	io.WriteString(os.Stdout, "connected\n")
}
