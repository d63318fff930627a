package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/knockssh/knockssh/internal/sshconfig"
	"github.com/knockssh/knockssh/knocker"
)

// This file holds --knock's ways of the seed's PortKnocker: the four
// positional values, and the settings file (knocksettings.txt or
// --settings FILE), which the OpenSesamy tool shares.

// argvSecretWarning is printed when the sequence comes from the command
// line.
const argvSecretWarning = "the knock sequence on the command line is visible to other users (ps) and stays in shell history: prefer a knock config (knockssh --init DESTINATION) or a settings file only you can read"

// applyFlags puts the flags given on the command line on top of cfg.
// found says cfg comes from a stanza or settings; without one the flags'
// defaults apply too.
func (o *options) applyFlags(cfg knocker.Config, found bool, fs *pflag.FlagSet, stderr io.Writer) (knocker.Config, error) {
	var err error
	set := fs.Changed
	if set("port") || !found {
		cfg.Port = o.port
	}
	if set("margin") || !found {
		cfg.Margin = o.margin
	}
	if set("retries") || !found {
		cfg.Retries = o.retries
	}
	if set("interface") {
		cfg.Interface = o.iface
	}
	if set("sequence") {
		warner(stderr)(argvSecretWarning)
		if cfg.Sequence, err = knocker.ParseSequence(o.sequence); err != nil {
			return cfg, fmt.Errorf("--sequence: %w", err)
		}
	}
	if set("window") {
		if cfg.Window, err = parseWindow(o.window); err != nil {
			return cfg, fmt.Errorf("--window: %w", err)
		}
	}
	if set("protocol") || !found {
		if cfg.Protocol, err = knocker.ParseProtocol(o.protocol); err != nil {
			return cfg, fmt.Errorf("--protocol: %w", err)
		}
	}
	switch {
	case o.ipv4 && o.ipv6:
		return cfg, errors.New("--ipv4 and --ipv6 exclude each other")
	case o.ipv4:
		cfg.Network = "ip4"
	case o.ipv6:
		cfg.Network = "ip6"
	}
	if set("source") {
		if err := cfg.Source.UnmarshalText([]byte(o.source)); err != nil {
			return cfg, fmt.Errorf("--source: %w", err)
		}
	}
	if o.verbose || o.knockVerbose {
		cfg.Trace = tracer(stderr)
	}
	return cfg, cfg.Validate()
}

// positionalConfig is PortKnocker's usage 1: --knock SERVER PORT SEQUENCE
// WINDOW-MS.
func (o *options) positionalConfig(fs *pflag.FlagSet, args []string, stderr io.Writer) (knocker.Config, error) {
	for _, name := range []string{"port", "sequence", "window"} {
		if fs.Changed(name) {
			return knocker.Config{}, fmt.Errorf("--%s and the positional %s exclude each other", name, strings.ToUpper(name))
		}
	}
	warner(stderr)(argvSecretWarning)
	cfg := knocker.Config{Host: strings.TrimSuffix(strings.TrimPrefix(args[0], "["), "]"), Margin: o.margin, Retries: o.retries}
	var err error
	if cfg.Port, err = strconv.Atoi(args[1]); err != nil || cfg.Port < 1 || cfg.Port > 65535 {
		return cfg, errors.New("PORT, the second argument, is not a number from 1 to 65535")
	}
	if cfg.Sequence, err = knocker.ParseSequence(args[2]); err != nil {
		return cfg, fmt.Errorf("SEQUENCE, the third argument: %w", err)
	}
	ms, err := strconv.Atoi(args[3])
	if err != nil || ms < 1000 || ms%1000 != 0 {
		return cfg, errors.New("WINDOW, the fourth argument, is not a whole number of seconds in milliseconds, such as 3000 (the server's --seconds is an integer)")
	}
	cfg.Window = time.Duration(ms) * time.Millisecond
	return o.applyFlags(cfg, true, fs, stderr)
}

// settingsConfig is PortKnocker's usages 2 and 3 (and the OpenSesamy
// tool's file): the values of the settings file name, ./knocksettings.txt
// when empty.
func (o *options) settingsConfig(flags *pflag.FlagSet, name string, stderr io.Writer) (knocker.Config, error) {
	given := name != ""
	if !given {
		name = knocker.SettingsFile
	}
	f, err := os.Open(name)
	if err != nil {
		if !given && errors.Is(err, fs.ErrNotExist) {
			return knocker.Config{}, fmt.Errorf("--knock needs a DESTINATION, SERVER PORT SEQUENCE WINDOW-MS, or a settings file: there is no ./%s (give --settings FILE)", knocker.SettingsFile)
		}
		return knocker.Config{}, fmt.Errorf("settings: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return knocker.Config{}, fmt.Errorf("settings: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return knocker.Config{}, fmt.Errorf("settings: %s is not a regular file", name)
	}
	if err := sshconfig.CheckPerm(name, fi, warner(stderr)); err != nil {
		return knocker.Config{}, err
	}
	s, err := knocker.ReadSettings(name, f)
	if err != nil {
		return knocker.Config{}, err
	}
	cfg := knocker.Config{Host: strings.TrimSuffix(strings.TrimPrefix(s.Server, "["), "]"), Port: s.Port,
		Sequence: s.Sequence, Window: s.Window, Margin: o.margin, Retries: o.retries}
	if s.HasDevice {
		if o.verbose || o.knockVerbose {
			fmt.Fprintf(stderr, "knockssh: %s: the MAC address is not used: the kernel resolves the link layer (ARP, NDP) itself\n", name)
		}
		if s.Device != 0 && !flags.Changed("interface") {
			ifi, err := net.InterfaceByIndex(s.Device)
			if err != nil {
				return cfg, fmt.Errorf("%s:%d: value 5: no interface with index %d (see knockssh --interfaces; 0 for none)", name, s.DeviceLine, s.Device)
			}
			cfg.Interface = ifi.Name
			o.settingsIface = fmt.Sprintf("%s:%d: value 5 (index %d)", name, s.DeviceLine, s.Device)
		}
	}
	return o.applyFlags(cfg, true, flags, stderr)
}
