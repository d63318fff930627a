package stanza

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/knockssh/knockssh/knocker"
)

// DialOptions tune [Dial].
type DialOptions struct {
	// Network is "ip4" or "ip6" to use one address family (ssh's
	// AddressFamily or -4/-6); "" for either. A stanza's own KnockFamily
	// other than any wins.
	Network string
	// Timeout bounds a connection made without a knock (ssh's
	// ConnectTimeout); 0 for none. A knock is bounded by its own retries.
	Timeout time.Duration
	// Trace receives the knock timeline.
	Trace func(knocker.Event)
}

// Dial connects to host and port: after knocking when st is not nil (the
// stanza found for the host), on st's KnockAddress or else on host; and
// directly when st is nil, so that one ProxyCommand line, or one client,
// serves hosts with and without a stanza.
func Dial(ctx context.Context, st *Stanza, host, port string, o DialOptions) (net.Conn, error) {
	address := net.JoinHostPort(host, port)
	if st == nil {
		d := net.Dialer{Timeout: o.Timeout}
		network := "tcp"
		if o.Network != "" {
			network = "tcp" + o.Network[2:]
		}
		return d.DialContext(ctx, network, address)
	}
	cfg := st.Config
	cfg.Host = host
	if st.Address != "" {
		cfg.Host = st.Address
	}
	if o.Network != "" && (cfg.Network == "" || cfg.Network == "ip") {
		cfg.Network = o.Network
	}
	cfg.Trace = o.Trace
	return knocker.Dial(ctx, cfg, address)
}

// IsProxyCommand reports whether the ProxyCommand pc runs knockssh
// --proxy, which reads the stanzas and knocks itself.
func IsProxyCommand(pc string) bool {
	return strings.Contains(pc, "knockssh") && strings.Contains(pc, "--proxy")
}
