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
		printErr(s.err, err)
		return exitFail
	}
	return exitOK
}
