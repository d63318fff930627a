package knocker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Config says how to knock on one server. Zero fields take the defaults
// (DefaultPort, DefaultWindow, DefaultMargin, UDP); Retries is taken as is.
type Config struct {
	// Host is the address knocked on: an IP address or a name, resolved
	// once, so knocks and connection go to the same address.
	Host string
	// Port is the knock port.
	Port int
	// Sequence is the secret.
	Sequence Sequence
	// Window is the server's KNOCKWINDOW, a whole number of seconds.
	Window time.Duration
	// Protocol is the kind of knock packet.
	Protocol Protocol
	// Margin is how long after the last burst to connect.
	Margin time.Duration
	// Retries is the number of attempts after the first.
	Retries int
	// Network restricts Host's resolution: "ip" (default), "ip4" or "ip6".
	Network string
	// Source, when valid, is the local address to knock and connect from.
	Source netip.Addr
	// Interface, when set, is the device to knock and connect by.
	Interface string
	// Trace, when set, receives the timeline's events.
	Trace func(Event)
	// LockDir is where the per-target lock files go (DefaultLockDir when
	// empty): knocks on one target from this machine never overlap.
	LockDir string
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Margin == 0 {
		c.Margin = DefaultMargin
	}
	if c.Protocol == 0 {
		c.Protocol = UDP
	}
	if c.Network == "" {
		c.Network = "ip"
	}
	return c
}

// Validate reports the first problem with c (after defaults), never
// mentioning the sequence's digits.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Host == "" {
		return errors.New("no host to knock on")
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("knock port %d out of range 1-65535", c.Port)
	}
	if err := c.Sequence.Validate(); err != nil {
		return err
	}
	if c.Retries < 0 {
		return fmt.Errorf("retries %d is negative", c.Retries)
	}
	switch c.Network {
	case "ip", "ip4", "ip6":
	default:
		return fmt.Errorf("network %q, want ip, ip4 or ip6", c.Network)
	}
	return checkTiming(c.Window, c.Margin)
}

// resolve returns the one address host stands for, in network's family.
func resolve(ctx context.Context, network, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if (network == "ip4" && !a.Is4()) || (network == "ip6" && !a.Is6()) {
			return netip.Addr{}, fmt.Errorf("address %v is not %s", a, network)
		}
		return a, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("no address for %s", host)
	}
	return addrs[0].Unmap(), nil
}

// engine builds an Engine from real sockets knocking on ka. dial, when
// valid, is the address Dial connects to.
func (c Config) engine(ka netip.Addr, dial netip.AddrPort) (*Engine, func(), error) {
	if c.Interface != "" {
		if err := checkInterface(c.Interface, ka); err != nil {
			return nil, nil, err
		}
	}
	knocks, err := NewSender(c.Protocol, Target{Addr: netip.AddrPortFrom(ka, uint16(c.Port)), Source: c.Source, Interface: c.Interface})
	if err != nil {
		return nil, nil, err
	}
	e := &Engine{Sequence: c.Sequence, Window: c.Window, Margin: c.Margin, Retries: c.Retries, Knocks: knocks, Trace: c.Trace}
	cleanup := func() { knocks.Close() }
	if dial.IsValid() {
		probe, err := NewSender(TCP, Target{Addr: dial, Source: c.Source, Interface: c.Interface})
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		e.Probe = probe
		d := net.Dialer{Control: bindControl(c.Interface)}
		if c.Source.IsValid() {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.Source, 0))
		}
		e.Dial = func(ctx context.Context) (net.Conn, error) {
			return dialWindow(ctx, func(ctx context.Context) (net.Conn, error) {
				return d.DialContext(ctx, "tcp", dial.String())
			})
		}
		cleanup = func() { knocks.Close(); probe.Close() }
	}
	return e, cleanup, nil
}

// Knock sends one knock attempt as c says and returns when the window is
// open: a connection from this machine to the secure port made now, and
// within the next Window minus Margin, gets through.
func Knock(ctx context.Context, c Config) (Timeline, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Timeline{}, err
	}
	ka, err := resolve(ctx, c.Network, c.Host)
	if err != nil {
		return Timeline{}, err
	}
	e, cleanup, err := c.engine(ka, netip.AddrPort{})
	if err != nil {
		return Timeline{}, err
	}
	defer cleanup()
	lk, err := c.lock(ctx, netip.AddrPortFrom(ka, uint16(c.Port)))
	if err != nil {
		return Timeline{}, err
	}
	tl, err := e.Knock(ctx)
	// The window is the caller's until it closes; after a failure, until
	// the hits sent have aged out.
	quiet := e.schedule(tl.Start).Close()
	if err != nil {
		quiet = time.Now().Add(e.schedule(tl.Start).Span() + c.Margin)
	}
	return tl, errors.Join(err, lk.release(quiet))
}

// lock takes the target's lock and waits out the quiet period the previous
// holder left.
func (c Config) lock(ctx context.Context, target netip.AddrPort) (*targetLock, error) {
	dir := c.LockDir
	if dir == "" {
		dir = DefaultLockDir()
	}
	lk, err := acquire(ctx, dir, target, func() {
		if c.Trace != nil {
			c.Trace(Event{Kind: EventBusy})
		}
	})
	if err != nil {
		return nil, err
	}
	if wait := time.Until(lk.quiet); wait > 0 {
		if c.Trace != nil {
			c.Trace(Event{Kind: EventBusy, Wait: wait})
		}
		if err := SystemClock.SleepUntil(ctx, lk.quiet); err != nil {
			lk.release(lk.quiet)
			return nil, err
		}
	}
	return lk, nil
}

// Dial knocks as c says and connects to address ("host:port", TCP) inside
// the window, retrying c.Retries times. An empty host in address means c.Host;
// the host must resolve to an address of the same family as the knocked one.
func Dial(ctx context.Context, c Config, address string) (net.Conn, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = c.Host
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return nil, fmt.Errorf("port %q in %q is not a number from 1 to 65535", port, address)
	}
	ka, err := resolve(ctx, c.Network, c.Host)
	if err != nil {
		return nil, err
	}
	fam := "ip4"
	if ka.Is6() {
		fam = "ip6"
	}
	// Knock and connect to one address: a name resolved twice may give
	// two (round-robin DNS).
	da := ka
	if host != c.Host {
		if da, err = resolve(ctx, fam, host); err != nil {
			return nil, err
		}
	}
	e, cleanup, err := c.engine(ka, netip.AddrPortFrom(da, uint16(p)))
	if err != nil {
		return nil, err
	}
	defer cleanup()
	lk, err := c.lock(ctx, netip.AddrPortFrom(ka, uint16(c.Port)))
	if err != nil {
		return nil, err
	}
	conn, err := e.Open(ctx)
	// A connection clears the server's list; a failure leaves hits that
	// must age out.
	quiet := time.Now()
	if err != nil {
		quiet = quiet.Add(time.Duration(len(c.Sequence))*c.Window + c.Margin)
	}
	if lerr := lk.release(quiet); lerr != nil {
		// Bookkeeping must not cost a connection that got through.
		if err != nil {
			err = errors.Join(err, lerr)
		} else if c.Trace != nil {
			c.Trace(Event{Kind: EventBusy, Err: lerr})
		}
	}
	if errors.Is(err, ErrNoAnswer) {
		return nil, fmt.Errorf("%w; check that the sequence, window (%v), knock port (%d) and protocol (%v) match the server's rules and that %v packets reach %v", err, c.Window, c.Port, c.Protocol, c.Protocol, ka)
	}
	return conn, err
}
