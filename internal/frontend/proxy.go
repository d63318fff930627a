package frontend

import (
	"context"
	"net"

	"github.com/knockssh/knockssh/internal/stanza"
	"github.com/knockssh/knockssh/knocker"
)

// DialAlias makes the TCP connection ssh asked its ProxyCommand for: to
// host and port (ssh's %h and %p) after knocking, when a stanza in files
// applies to alias (ssh's %n, the name the user typed); directly when none
// does, so that one ProxyCommand line can serve every host. trace, when
// set, receives the knock timeline.
func DialAlias(ctx context.Context, alias, host, port string, files []stanza.File, warn func(string), trace func(knocker.Event)) (net.Conn, error) {
	st, found, err := stanza.Lookup(alias, files, warn)
	if err != nil {
		return nil, err
	}
	o := stanza.DialOptions{Trace: trace}
	if !found {
		return stanza.Dial(ctx, nil, host, port, o)
	}
	return stanza.Dial(ctx, &st, host, port, o)
}
