package sshwrap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Resolved is what ssh will use to reach a destination, as ssh -G prints
// it after reading its config files.
type Resolved struct {
	HostName string
	Port     int
	User     string
	// ProxyCommand and ProxyJump are "" when ssh dials the host itself.
	ProxyCommand string
	ProxyJump    string
}

// Resolve asks ssh (ssh -G with the invocation's options and destination)
// how it would reach inv's destination: HostName, Port, User and proxies,
// with Match blocks, Include and canonicalization as only ssh evaluates
// them.
func Resolve(ctx context.Context, sshPath string, inv Invocation) (Resolved, error) {
	if inv.Dest < 0 {
		return Resolved{}, errors.New("no destination")
	}
	// The command stays: without it ssh -G -s refuses ("You must specify a
	// subsystem").
	args := append([]string{"-G"}, inv.Args...)
	cmd := exec.CommandContext(ctx, sshPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdin = nil
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return Resolved{}, fmt.Errorf("%s -G %s: %w: %s", filepath.Base(sshPath), inv.Alias, err, msg)
	}
	return parseG(out), nil
}

// parseG reads ssh -G's "keyword value" lines.
func parseG(out []byte) Resolved {
	r := Resolved{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), " ")
		switch strings.ToLower(key) {
		case "hostname":
			r.HostName = val
		case "port":
			r.Port, _ = strconv.Atoi(val)
		case "user":
			r.User = val
		case "proxycommand":
			if !strings.EqualFold(val, "none") {
				r.ProxyCommand = val
			}
		case "proxyjump":
			if !strings.EqualFold(val, "none") {
				r.ProxyJump = val
			}
		}
	}
	return r
}

// A Wrapper turns an ssh command line into the one knockssh runs: the
// user's arguments unchanged, with knockssh --proxy as the ProxyCommand when
// a knock stanza applies to the destination.
type Wrapper struct {
	// SSH is the ssh program.
	SSH string
	// Self is the knockssh program that ssh runs as its ProxyCommand.
	Self string
	// Config is --config: the only knock config read, when set.
	Config string
	// Verbose makes the ProxyCommand print the knock timeline.
	Verbose bool
	// Warn receives warnings (a config readable by others, say).
	Warn func(string)
}

// Command returns the program and arguments to run for ssh's args (without
// the program name). knock reports whether a stanza applies; when it does
// not, or when ssh opens no new connection (-G, -V, -O, -Q) or cannot parse
// the arguments, args go to ssh untouched.
func (w Wrapper) Command(ctx context.Context, args []string) (argv []string, knock bool, err error) {
	plain := append([]string{w.SSH}, args...)
	inv, err := ScanArgs(args)
	if err != nil || inv.Dest < 0 || inv.NoConnect {
		return plain, false, nil // ssh says what is wrong, or needs no knock
	}
	_, found, err := Lookup(inv.Alias, w.files(inv.ConfigFile), w.Warn)
	if err != nil {
		return nil, false, err
	}
	if !found {
		return plain, false, nil
	}
	var viaArgs string
	if v, ok := inv.Option("ProxyCommand"); ok && !strings.EqualFold(v, "none") {
		viaArgs = "ProxyCommand " + v
	} else if inv.JumpHosts != "" {
		viaArgs = "ProxyJump " + inv.JumpHosts
	}
	if viaArgs == "" {
		r, err := Resolve(ctx, w.SSH, inv)
		if err != nil {
			return nil, false, err
		}
		switch {
		case isKnockProxy(r.ProxyCommand):
			// The user's ssh config already knocks for this host.
			return plain, false, nil
		case r.ProxyCommand != "":
			viaArgs = "ProxyCommand " + r.ProxyCommand
		case r.ProxyJump != "":
			viaArgs = "ProxyJump " + r.ProxyJump
		}
	}
	if viaArgs != "" {
		return nil, false, fmt.Errorf("%s has a knock stanza, but ssh reaches it through %.60s: the knocks would leave from this machine and the connection from the proxy; give the knock stanza to the first host ssh dials itself (a ProxyJump host included), or remove the proxy", inv.Alias, viaArgs)
	}
	return append([]string{w.SSH, "-o", "ProxyCommand=" + w.ProxyCommand(inv.ConfigFile)}, args...), true, nil
}

// files is the knock configs the wrapper and its ProxyCommand read.
func (w Wrapper) files(sshConfig string) []File {
	if w.Config != "" {
		return []File{{Path: w.Config}}
	}
	return DefaultFiles(sshConfig)
}

// ProxyCommand returns the ProxyCommand line that runs w.Self --proxy for
// the host ssh connects to; sshConfig is ssh's -F file, if any, where the
// proxy also looks for Knock* keywords.
func (w Wrapper) ProxyCommand(sshConfig string) string {
	var b strings.Builder
	b.WriteString(percentQuote(w.Self))
	b.WriteString(" --proxy")
	if w.Config != "" {
		b.WriteString(" --config " + percentQuote(w.Config))
	} else if sshConfig != "" {
		b.WriteString(" --ssh-config " + percentQuote(sshConfig))
	}
	if w.Verbose {
		b.WriteString(" -v")
	}
	b.WriteString(" %n %h %p")
	return b.String()
}

// isKnockProxy reports a ProxyCommand that already runs knockssh --proxy.
func isKnockProxy(pc string) bool {
	return strings.Contains(pc, "knockssh") && strings.Contains(pc, "--proxy")
}

// percentQuote quotes s for the shell that runs a ProxyCommand, after
// ssh's % expansion.
func percentQuote(s string) string {
	return strings.ReplaceAll(shellQuote(s), "%", "%%")
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:@+,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// FindSSH returns the ssh program: $KNOCKSSH_SSH when set, else ssh on
// $PATH.
func FindSSH() (string, error) {
	if p := os.Getenv("KNOCKSSH_SSH"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("ssh")
	if err != nil {
		return "", fmt.Errorf("no ssh program found on PATH (install OpenSSH's client, set KNOCKSSH_SSH, or use --knock): %w", err)
	}
	return p, nil
}
