// Command knockssh knocks on an Open Sesamy port-knocking firewall and
// connects to the SSH server behind it. See the README for its uses.
package main

import (
	"os"

	"github.com/knockssh/knockssh/internal/cli"
	"github.com/knockssh/knockssh/internal/resolv"
)

func main() {
	resolv.Setup() // Android has no /etc/resolv.conf
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
