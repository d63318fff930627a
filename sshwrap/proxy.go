package sshwrap

import (
	"context"
	"net"

	"github.com/knockssh/knockssh/knocker"
)

// DialAlias makes the TCP connection ssh asked its ProxyCommand for: to
// host and port (ssh's %h and %p) after knocking, when a stanza in files
// applies to alias (ssh's %n, the name the user typed); directly when none
// does, so that one ProxyCommand line can serve every host. trace, when
// set, receives the knock timeline.
func DialAlias(ctx context.Context, alias, host, port string, files []File, warn func(string), trace func(knocker.Event)) (net.Conn, error) {
	st, found, err := Lookup(alias, files, warn)
	if err != nil {
		return nil, err
	}
	address := net.JoinHostPort(host, port)
	if !found {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", address)
	}
	cfg := st.Config
	cfg.Host = host
	if st.Address != "" {
		cfg.Host = st.Address
	}
	cfg.Trace = trace
	return knocker.Dial(ctx, cfg, address)
}
