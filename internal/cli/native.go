package cli

import (
	"context"

	"github.com/knockssh/knockssh/sshclient"
)

// native is --native: args are ssh's, after knockssh's own options.
func native(ctx context.Context, o *options, args []string, s stdio) int {
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
		printErr(s.err, err)
	}
	return status
}
