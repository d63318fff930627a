package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/frontend"
	"github.com/knockssh/knockssh/internal/sshargv"
	"github.com/knockssh/knockssh/internal/stanza"
	"github.com/knockssh/knockssh/knocker"
)

// --check DESTINATION: the diagnostic for "it doesn't work". It prints
// what applies to DESTINATION, one fact a line on stdout, and each problem
// that would stop a connection on stderr, as "knockssh: ..." with its
// hint. It sends no knock and opens no connection (names are looked up as
// ssh -G and a knock would), and never shows the sequence nor how many
// knocks a burst holds.

// runCheck is --check [ssh options] DESTINATION, args being what follows
// knockssh's own options: 0 when nothing found would stop a connection, 1
// when something would.
func runCheck(ctx context.Context, o *options, args []string, s stdio) int {
	inv, err := scanCheck(ctx, args)
	if err != nil {
		fmt.Fprintf(s.err, "knockssh: --check: %v (see knockssh --check --help)\n", err)
		return exitUsage
	}
	sshConfig := inv.ConfigFile // as the wrapper: ssh's -F first
	if sshConfig == "" {
		sshConfig = o.sshConfig
	}
	c := &checker{files: stanza.Files(o.config, sshConfig), inv: inv, out: s.out, err: s.err}
	c.run(ctx)
	if c.problems > 0 {
		c.factf("result: %d problem(s) that would stop a connection, on stderr", c.problems)
		return exitFail
	}
	c.factf("result: ok, nothing found that would stop a connection")
	return exitOK
}

// scanCheck reads --check's ssh command line as the installed ssh would.
func scanCheck(ctx context.Context, args []string) (sshargv.Invocation, error) {
	var inv sshargv.Invocation
	var err error
	if ssh, ferr := frontend.FindSSH(); ferr == nil {
		inv, err = sshargv.ScanInstalled(ctx, ssh, args)
	} else {
		inv, err = sshargv.ScanArgs(args)
	}
	switch {
	case err != nil:
		return inv, err
	case inv.Dest < 0:
		return inv, errors.New("give a DESTINATION, after ssh's options if any")
	case inv.NoConnect:
		return inv, errors.New("-G, -V, -Q and -O open no connection: nothing to check")
	}
	return inv, nil
}

// A checker gathers the facts of one --check.
type checker struct {
	files    []stanza.File // the knock configs
	inv      sshargv.Invocation
	out, err io.Writer
	problems int

	st      stanza.Stanza
	found   bool
	ssh     string           // the ssh program, "" when there is none
	release *sshargv.Release // nil when ssh -V does not tell
	r       *frontend.Resolved
	// badName is a destination with shell metacharacters: neither ssh -G
	// nor the resolver sees it.
	badName bool
}

// run checks everything in the order the facts are printed.
func (c *checker) run(ctx context.Context) {
	c.factf("destination: %s", printable(c.inv.Alias))
	c.configs()
	ok := c.lookup()
	c.sshProgram(ctx)
	if !ok {
		return
	}
	c.sshConfig(ctx)
	if !c.found {
		return
	}
	c.timeout()
	c.route(ctx)
	c.lockDir()
}

func (c *checker) factf(format string, a ...any) {
	fmt.Fprintf(c.out, format+"\n", a...)
}

func (c *checker) warnf(format string, a ...any) {
	warner(c.err)(fmt.Sprintf(format, a...))
}

// problem prints err, which would stop a connection, with its hint.
func (c *checker) problem(err error) {
	printErr(c.err, err)
	c.problems++
}

// configs lists the knock configs and their modes; the stanza's lookup
// checks them.
func (c *checker) configs() {
	for _, f := range c.files {
		kind := "knock config"
		if f.SSH {
			kind = "ssh config, its Knock* lines"
		}
		fi, err := os.Stat(f.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && f.Optional:
			c.factf("config: %s: %s, not there", f.Path, kind)
		case err != nil:
			c.factf("config: %s: %s, %v", f.Path, kind, err)
		default:
			c.factf("config: %s: %s, mode %04o", f.Path, kind, fi.Mode().Perm())
		}
	}
}

// lookup looks the stanza up, as the wrapper and the proxy do; false
// when the knock configs cannot be read.
func (c *checker) lookup() bool {
	st, found, err := stanza.Lookup(c.inv.Alias, c.files, warner(c.err))
	if err != nil {
		c.factf("stanza: unknown, the knock configs are refused")
		c.problem(err)
		return false
	}
	c.st, c.found = st, found
	if !found {
		c.factf("stanza: none: no knock stanza, ssh connects directly")
		return true
	}
	cfg := st.Config.WithDefaults()
	c.factf("stanza: %s", printable(st.Where))
	c.factf("knock: %v to port %d, window %v, %d bursts, margin %v, %d retries", cfg.Protocol, cfg.Port, cfg.Window, len(cfg.Sequence), cfg.Margin, cfg.Retries)
	c.factf("knock time: %v for the first attempt, %v at most with %d retries", firstAttempt(cfg), cfg.Budget(), cfg.Retries)
	return true
}

// firstAttempt is how long the knock's first attempt takes until its
// window opens.
func firstAttempt(cfg knocker.Config) time.Duration {
	cfg.Retries = 0
	return cfg.Budget()
}

// sshProgram finds ssh and its release, and says what the release means
// for CVE-2023-51385.
func (c *checker) sshProgram(ctx context.Context) {
	ssh, err := frontend.FindSSH()
	if err != nil {
		c.factf("ssh: none found")
		c.problem(err)
		return
	}
	c.ssh = ssh
	banner, r, err := sshargv.SSHVersion(ctx, ssh)
	if err != nil {
		c.factf("ssh: %s, release unknown: %s", ssh, printable(err.Error()))
		c.factf("CVE-2023-51385: cannot tell whether this ssh refuses shell metacharacters in host names; the wrapper refuses them itself")
		return
	}
	c.release = &r
	c.factf("ssh: %s, OpenSSH %v (%s)", ssh, r, printable(banner))
	if r.RefusesMetachars() {
		c.factf("CVE-2023-51385: fixed: OpenSSH %v refuses shell metacharacters in host names, so %%h and %%n are safe in a ProxyCommand", r)
		return
	}
	c.factf("CVE-2023-51385: OpenSSH %v is before 9.6: unless the distribution fixed it, ssh puts a host name with shell metacharacters into a ProxyCommand's %%h and %%n as typed; the wrapper refuses such names itself, a ProxyCommand line in the ssh config does not", r)
}

// sshConfig asks ssh -G how it reaches the destination.
func (c *checker) sshConfig(ctx context.Context) {
	err := frontend.CheckHostname(c.inv.Alias)
	c.badName = err != nil
	if c.ssh == "" {
		if c.badName && c.found {
			c.problem(err)
		}
		return
	}
	if err != nil {
		// Never given to ssh -G, whose Match exec lines would put it in
		// a shell command line too.
		c.factf("ssh -G: not asked: the destination holds shell metacharacters")
		if c.found {
			c.problem(err)
		}
		return
	}
	r, err := frontend.Resolve(ctx, c.ssh, c.inv)
	if err != nil {
		c.factf("ssh -G: fails")
		c.problem(err)
		return
	}
	c.r = &r
	via := "directly"
	switch {
	case stanza.IsProxyCommand(r.ProxyCommand) && c.found:
		via = "through knockssh --proxy, its ProxyCommand in the ssh config"
	case stanza.IsProxyCommand(r.ProxyCommand):
		via = "through knockssh --proxy, its ProxyCommand in the ssh config, which connects without a knock"
	case r.ProxyCommand != "":
		via = "through ProxyCommand " + printable(r.ProxyCommand)
	case r.ProxyJump != "":
		via = "through ProxyJump " + printable(r.ProxyJump)
	}
	c.factf("ssh -G: %s: HostName %s, Port %s, reached %s", printable(c.inv.Alias), printable(r.HostName), printable(r.Port), via)
	if !c.found {
		return
	}
	if c.proxyLine() && c.release != nil && !c.release.RefusesMetachars() {
		c.warnf("the ssh config runs knockssh --proxy for %s and OpenSSH %v puts host names into it as typed (CVE-2023-51385): use OpenSSH 9.6 or later, or a build with the fix, or the wrapper instead of the ProxyCommand line", printable(c.inv.Alias), *c.release)
	}
	switch {
	case !c.proxied():
	case r.ProxyCommand != "":
		c.problem(&frontend.ProxiedError{Alias: c.inv.Alias, Via: "ProxyCommand " + r.ProxyCommand})
	default:
		c.problem(&frontend.ProxiedError{Alias: c.inv.Alias, Via: "ProxyJump " + r.ProxyJump})
	}
}

// proxied reports that ssh reaches the destination through a proxy of
// its own, other than knockssh --proxy.
func (c *checker) proxied() bool {
	return c.r != nil && !c.proxyLine() && (c.r.ProxyCommand != "" || c.r.ProxyJump != "")
}

// proxyLine reports that the ssh config runs knockssh --proxy for the
// destination: the wrapper then runs ssh as it is, and ssh's
// ConnectTimeout stays as the config sets it.
func (c *checker) proxyLine() bool {
	return c.r != nil && stanza.IsProxyCommand(c.r.ProxyCommand)
}

// timeout says whether ssh's ConnectTimeout leaves the knock room: with
// the ProxyCommand line in the ssh config, the wrapper runs ssh as it is
// and the timeout must outlast the knock; otherwise the wrapper adds the
// knock's time, and only a ProxyCommand line of one's own would not.
func (c *checker) timeout() {
	if c.r == nil || c.proxied() {
		return // the wrapper refuses a proxy of the host's own
	}
	cfg := c.st.Config.WithDefaults()
	t, first, budget := c.r.ConnectTimeout, firstAttempt(cfg), cfg.Budget()
	room := timeoutRoom(t, first, budget)
	verdict := room.describe(t, first, budget)
	alias := printable(c.inv.Alias)
	if c.proxyLine() {
		c.factf("connect timeout: %s (ssh -G); the wrapper leaves it so, as the ssh config runs knockssh --proxy itself", timeoutValue(t))
		if c.earlyBanner() {
			c.factf("connect timeout with the ProxyCommand line: %s bounds the connection after the knock, not the knock: knockssh --proxy answers ssh's wait for the server's identification string before knocking", timeoutValue(t))
			return
		}
		c.factf("connect timeout with the ProxyCommand line: %s", verdict)
		fix := c.timeoutFix(t, budget)
		if !c.st.LateBanner {
			fix = "connect again: the first connection learns the server's identification string, and the next ones answer ssh's wait for it before knocking; or " + fix
		}
		switch room {
		case roomNone:
			c.problem(&hintError{
				err:  fmt.Errorf("ssh's ConnectTimeout for %s, %v, is over before the knock's window opens (%v): ssh gives up waiting for the server's banner", alias, t, first),
				hint: fix,
			})
		case roomFirst:
			c.warnf("ssh's ConnectTimeout for %s, %v, is over before a retry's window opens (%v at most): %s", alias, t, budget, fix)
		}
		return
	}
	if t == 0 {
		c.factf("connect timeout: none (ssh -G): ssh waits for the knock as long as it takes")
		return
	}
	c.factf("connect timeout: %v (ssh -G); the wrapper gives ssh %v, the knock's %v on top", t, frontend.WrapperTimeout(t, budget), budget)
	if room == roomNone || room == roomFirst {
		verdict += "; there, " + c.timeoutFix(t, budget)
	}
	c.factf("connect timeout with a ProxyCommand line of your own: %s", verdict)
}

// earlyBanner says whether knockssh --proxy gives ssh the server's
// identification string before knocking, so that ssh's ConnectTimeout
// need not outlast the knock: it does once a connection has learned it,
// unless the stanza says KnockEarlyBanner no.
func (c *checker) earlyBanner() bool {
	if c.st.LateBanner {
		c.factf("identification string: KnockEarlyBanner no: ssh waits for the server's through the knock")
		return false
	}
	target := net.JoinHostPort(c.r.HostName, c.r.Port)
	line := frontend.LoadIdent(frontend.IdentPath(c.st.Config.LockDir, c.r.HostName, c.r.Port))
	if line == nil {
		c.factf("identification string: none learned for %s yet: the first connection learns it", printable(target))
		return false
	}
	c.factf("identification string: learned for %s: %s", printable(target), printable(strings.TrimRight(string(line), "\r\n")))
	return true
}

// timeoutFix says how to give ConnectTimeout t room for a knock of budget,
// where it is set: what the wrapper would give ssh, or none.
func (c *checker) timeoutFix(t, budget time.Duration) string {
	n := frontend.WrapperTimeout(t, budget) / time.Second
	if _, ok := c.inv.Option("ConnectTimeout"); ok {
		return fmt.Sprintf("give -o ConnectTimeout=%d, or none (ansible: timeout = %d in ansible.cfg)", n, n)
	}
	return fmt.Sprintf(`set "ConnectTimeout %d" for %s in the ssh config, above any other ConnectTimeout line (the first value wins), or none`, n, printable(c.inv.Alias))
}

// timeoutValue is ssh's ConnectTimeout as the facts show it.
func timeoutValue(t time.Duration) string {
	if t == 0 {
		return "none"
	}
	return t.String()
}

// A room is how ssh's ConnectTimeout fares with a ProxyCommand that
// knocks: it bounds the wait for the server's banner (OpenSSH's
// kex_exchange_identification), which the knock delays.
type room int

const (
	roomUnbounded room = iota // no ConnectTimeout
	roomAll                   // longer than the knock with every retry
	roomFirst                 // longer than the first attempt, not the retries
	roomNone                  // over before the first attempt's window opens
)

// timeoutRoom returns the room ConnectTimeout t leaves a knock whose first
// attempt takes first and whose retries take it to budget.
func timeoutRoom(t, first, budget time.Duration) room {
	switch {
	case t <= 0:
		return roomUnbounded
	case t <= first:
		return roomNone
	case t <= budget:
		return roomFirst
	}
	return roomAll
}

// describe says what r means for ConnectTimeout t.
func (r room) describe(t, first, budget time.Duration) string {
	switch r {
	case roomUnbounded:
		return "no limit: ssh waits for the server's banner as long as the knock takes"
	case roomAll:
		return fmt.Sprintf("room: %v leaves %v to connect after the knock's last retry (%v)", t, t-budget, budget)
	case roomFirst:
		return fmt.Sprintf("too short for a retry: %v leaves %v to connect after the first attempt (%v), but is over before a retry's window opens (%v at most)", t, t-first, first, budget)
	}
	return fmt.Sprintf("too short: %v is over before the knock's window opens (%v): ssh gives up waiting for the server's banner", t, first)
}

// route finds the knock address and the way knocks would take, sending
// nothing.
func (c *checker) route(ctx context.Context) {
	if c.badName {
		c.factf("route: not looked up: the destination is refused")
		return
	}
	cfg := c.st.Config
	cfg.Host, cfg.Trace = c.st.Address, nil
	from := "KnockAddress"
	if cfg.Host == "" && c.r != nil && c.r.HostName != "" {
		cfg.Host, from = c.r.HostName, "ssh's HostName"
	}
	if cfg.Host == "" {
		cfg.Host, from = c.inv.Alias, "the destination"
	}
	if err := cfg.Validate(); err != nil {
		c.problem(err)
		return
	}
	rt, err := knocker.LookupRoute(ctx, cfg)
	switch {
	case !rt.Addr.IsValid():
		c.factf("knock address: %s (%s), not resolved", printable(cfg.Host), from)
	case rt.Addr.String() == cfg.Host:
		c.factf("knock address: %v (%s)", rt.Addr, from)
	default:
		c.factf("knock address: %s (%s), resolved to %v", printable(cfg.Host), from, rt.Addr)
	}
	if err != nil {
		c.factf("route: none: the knocks could not leave")
		if errors.Is(err, knocker.ErrInterface) {
			err = &hintError{err: err, hint: "fix KnockInterface in the stanza, or remove it to let the kernel choose (knockssh --interfaces lists this machine's)"}
		}
		c.problem(err)
		return
	}
	by := rt.Interface
	switch {
	case cfg.Interface != "":
		by += " (KnockInterface)"
	case by == "":
		by = "an interface without that address"
	}
	c.factf("route: knocks to %v port %d would leave from %v by %s (the kernel's route, looked up without sending)", rt.Addr, cfg.WithDefaults().Port, rt.Source, by)
}

// lockDir checks the directory of the knocks' lock files, as a knock
// would.
func (c *checker) lockDir() {
	dir := c.st.Config.LockDir
	if dir == "" {
		dir = knocker.DefaultLockDir()
	}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.factf("lock directory: %s, not there yet: the first knock makes it, mode 0700", dir)
		return
	case err != nil:
		c.factf("lock directory: %s, %v", dir, err)
		c.problem(fmt.Errorf("lock directory: %w", err))
		return
	}
	c.factf("lock directory: %s, mode %04o", dir, fi.Mode().Perm())
	if err := knocker.CheckLockDir(dir); err != nil {
		c.problem(err)
	}
}

// printable returns s, which ssh or a config file printed, with control
// characters replaced by '?' and cut to 100 characters.
func printable(s string) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i == 100 {
			b.WriteString("...")
			break
		}
		if r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
