package cli

import (
	"context"
	"fmt"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
)

// --interfaces: the OpenSesamy tool's Info button.

func init() {
	register(modeSpec{
		name: "interfaces",
		help: "list the network interfaces: index, name, up or down, MAC and addresses",
		usage: `  knockssh --knock [options] SERVER PORT SEQUENCE WINDOW-MS
  knockssh --knock [--settings FILE] [options]
      The seed's PortKnocker: knock with the values given (the window in
      milliseconds, such as 3000; the sequence is then visible in ps), or
      read them from FILE or ./knocksettings.txt: server, port, sequence and
      window, one a line or on one line, and in the OpenSesamy tool's file
      an interface index (0 for none) and a MAC address, not needed.
  knockssh --interfaces
      List the network interfaces with the index a settings file's fifth
      value names (the OpenSesamy tool's Info button), for --interface.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *options, *pflag.FlagSet, stdio) int {
			addSettingsFlag(fs) // --knock's, which is not a registered mode
			return runInterfaces
		},
	})
}

func runInterfaces(_ context.Context, _ *options, fs *pflag.FlagSet, s stdio) int {
	if fs.NArg() != 0 {
		fmt.Fprintln(s.err, "knockssh: --interfaces takes no argument")
		return exitUsage
	}
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Fprintf(s.err, "knockssh: listing interfaces: %v\n", err)
		return exitFail
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tSTATE\tMAC\tADDRESSES")
	for _, ifi := range ifs {
		state := "down"
		if ifi.Flags&net.FlagUp != 0 {
			state = "up"
			if ifi.Flags&net.FlagRunning == 0 {
				state = "up, no carrier"
			}
		}
		mac := ifi.HardwareAddr.String()
		if mac == "" {
			mac = "-"
		}
		var addrs []string
		if as, err := ifi.Addrs(); err == nil {
			for _, a := range as {
				addrs = append(addrs, a.String())
			}
		}
		if len(addrs) == 0 {
			addrs = []string{"-"}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ifi.Index, ifi.Name, state, mac, strings.Join(addrs, " "))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(s.err, "knockssh: %v\n", err)
		return exitFail
	}
	return exitOK
}
