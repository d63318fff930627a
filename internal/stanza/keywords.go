package stanza

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/sshconfig"
	"github.com/knockssh/knockssh/knocker"
)

// A keyword is one Knock* keyword: the single source of what it means,
// takes and defaults to (the README's table is checked against it).
type keyword struct {
	name    string
	meaning string // for the README's table
	def     string // the default, for the README's table
	want    string // what a value must be, for errors
	// set parses a value of one word into st. Its errors never show a
	// KnockSequence value.
	set func(st *Stanza, v string) error
}

// keywords are the Knock* keywords, in the README's order.
var keywords = []keyword{
	{"KnockSequence", "the secret: digits 1–9, 1 to 16 bursts", "required", "digits 1-9, one a burst",
		func(st *Stanza, v string) (err error) {
			st.Config.Sequence, err = knocker.ParseSequence(v)
			return err // never echoes the value
		}},
	{"KnockPort", "the server's knock port", strconv.Itoa(knocker.DefaultPort), "a port number from 1 to 65535",
		func(st *Stanza, v string) error {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return fmt.Errorf("%q is not a port number from 1 to 65535", v)
			}
			st.Config.Port = p
			return nil
		}},
	{"KnockWindow", "the server's window, whole seconds", strconv.Itoa(int(knocker.DefaultWindow / time.Second)), "a whole number of seconds such as 3",
		func(st *Stanza, v string) error {
			n, err := strconv.Atoi(strings.TrimSuffix(v, "s"))
			if err != nil || n < 1 || n > 3600 {
				return fmt.Errorf("%q is not a whole number of seconds from 1 to 3600", v)
			}
			st.Config.Window = time.Duration(n) * time.Second
			return nil
		}},
	{"KnockProtocol", "`udp`, `tcp` or `raw`", knocker.UDP.String(), "udp, tcp or raw",
		func(st *Stanza, v string) (err error) {
			st.Config.Protocol, err = knocker.ParseProtocol(v)
			return err
		}},
	{"KnockMargin", "connect this long after the last burst", knocker.DefaultMargin.String(), "a positive duration such as 50ms",
		func(st *Stanza, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%q is not a positive duration such as 50ms", v)
			}
			st.Config.Margin = d
			return nil
		}},
	{"KnockRetries", "attempts after the first", strconv.Itoa(knocker.DefaultRetries), "a number of retries from 0 to 100",
		func(st *Stanza, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 100 {
				return fmt.Errorf("%q is not a number of retries from 0 to 100", v)
			}
			st.Config.Retries = n
			return nil
		}},
	{"KnockAddress", "knock on this address instead of the HostName", "HostName", "a host name or IP address",
		func(st *Stanza, v string) error {
			st.Address = v
			return nil
		}},
	{"KnockSource", "the local address knocks leave from", "kernel's choice", "a local IP address",
		func(st *Stanza, v string) error {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return fmt.Errorf("%q is not an IP address", v)
			}
			st.Config.Source = a
			return nil
		}},
	{"KnockInterface", "the network interface knocks leave by", "kernel's choice", "a network interface name",
		func(st *Stanza, v string) error {
			st.Config.Interface = v
			return nil
		}},
	{"KnockShare", "share one knocked connection among commands (ssh's ControlMaster): `yes`, `no`, or how long it outlives the last, as ControlPersist", "yes (1m)", "yes, no, or a time such as 10m",
		func(st *Stanza, v string) error {
			switch strings.ToLower(v) {
			case "yes":
				st.Share = DefaultShare
				return nil
			case "no":
				st.Share = -1
				return nil
			}
			d, err := sshconfig.Time(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%q is not yes, no, or a time such as 10m", v)
			}
			st.Share = d
			return nil
		}},
	{"KnockFamily", "`any`, `inet` or `inet6`", "any", "any, inet or inet6",
		func(st *Stanza, v string) error {
			n, ok := map[string]string{"any": "ip", "inet": "ip4", "inet6": "ip6"}[strings.ToLower(v)]
			if !ok {
				return fmt.Errorf("%q is not any, inet or inet6", v)
			}
			st.Config.Network = n
			return nil
		}},
	{"KnockEarlyBanner", "with `--proxy`, give ssh the server's identification string learned from an earlier connection before knocking, so that ssh's ConnectTimeout need not outlast the knock: `yes` or `no`", "yes", "yes or no",
		func(st *Stanza, v string) error {
			switch strings.ToLower(v) {
			case "yes":
				st.LateBanner = false
			case "no":
				st.LateBanner = true
			default:
				return fmt.Errorf("%q is not yes or no", v)
			}
			return nil
		}},
}

// keywordNamed returns the keyword spelt lkey in lower case, or nil.
func keywordNamed(lkey string) *keyword {
	for i := range keywords {
		if strings.ToLower(keywords[i].name) == lkey {
			return &keywords[i]
		}
	}
	return nil
}

// parse parses the value of a config line (the words after the keyword)
// into st. A KnockSequence may take several words ("3 1 4 1"); every other
// keyword takes one.
func (kw *keyword) parse(st *Stanza, value string) error {
	words, err := sshconfig.Words(value)
	if err != nil {
		return err
	}
	v := strings.Join(words, " ")
	switch {
	case v == "":
		return fmt.Errorf("no value, want %s", kw.want)
	case len(words) > 1 && kw.name != "KnockSequence":
		return fmt.Errorf("%d values, want one: %s", len(words), kw.want)
	}
	return kw.set(st, v)
}

// A Keyword documents one Knock* keyword, for the manual.
type Keyword struct {
	Name, Meaning, Default string
}

// Keywords returns the Knock* keywords in the README's order.
func Keywords() []Keyword {
	ks := make([]Keyword, len(keywords))
	for i, kw := range keywords {
		ks[i] = Keyword{kw.name, kw.meaning, kw.def}
	}
	return ks
}
