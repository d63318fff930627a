//go:build !linux

package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

func runWatch(_ context.Context, _ *options, _ *pflag.FlagSet, s stdio) int {
	fmt.Fprintln(s.err, "knockssh: --watch captures with AF_PACKET: it runs on the Linux server only")
	return exitFail
}
