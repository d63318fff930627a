package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/knockssh/knockssh/sshclient"
)

func init() {
	register(modeSpec{
		name: "native",
		help: "connect with the built-in ssh client, no ssh program needed: ssh options, DESTINATION [COMMAND]",
		usage: `  knockssh --native [--config FILE] [--knock-verbose] [ssh options] DESTINATION [COMMAND [ARG...]]
      Connect with knockssh's own ssh client (no OpenSSH needed), knocking
      when a stanza applies. It reads the ssh config as ssh does and
      supports -p -l -i -F -o -t -T -N -n -q -v -4 -6 -L; other ssh
      options are refused.
`,
		raw: native,
	})
}

// native is --native: args are the whole command line; the knockssh
// options before ssh's (--native, --config, --knock-verbose) are taken
// off, and the rest is ssh's, which pflag must not see.
func native(ctx context.Context, o *options, args []string, s stdio) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "--") && args[0] != "--" {
		name, value, hasValue := strings.Cut(args[0][2:], "=")
		switch name {
		case "native":
		case "knock-verbose":
			o.knockVerbose = true
		case "config":
			if !hasValue {
				if len(args) < 2 {
					fmt.Fprintln(s.err, "knockssh: flag needs an argument: --config")
					return exitUsage
				}
				value, args = args[1], args[1:]
			}
			o.config = value
		case "help":
			io.WriteString(s.out, usageText())
			return exitOK
		default:
			fmt.Fprintf(s.err, "knockssh: --%s does not go with --native; give knockssh's options before ssh's: --native [--config FILE] [--knock-verbose]\n", name)
			return exitUsage
		}
		args = args[1:]
	}
	return runNative(ctx, o, args, s)
}

// runNative runs ssh's args with the native client.
func runNative(ctx context.Context, o *options, args []string, s stdio) int {
	n := sshclient.Command{
		KnockConfig:  o.config,
		KnockVerbose: o.knockVerbose,
		Stdin:        s.in,
		Stdout:       s.out,
		Stderr:       s.err,
		Warn:         warner(s.err),
		Trace:        tracer(s.err),
	}
	status, err := n.Run(ctx, args)
	if err != nil {
		fmt.Fprintf(s.err, "knockssh: %v\n", err)
	}
	return status
}
