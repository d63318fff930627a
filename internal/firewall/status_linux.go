package firewall

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ReadKernelClock reads the kernel's HZ and jiffies counter.
//
// HZ comes from the kernel config (/proc/config.gz, else
// /boot/config-RELEASE, CONFIG_HZ); failing that it is inferred from
// /proc/timer_list. The jiffies counter comes from /proc/timer_list's
// "jiffies:" line, which is exact but readable by root only; otherwise it
// is estimated from CLOCK_MONOTONIC and INITIAL_JIFFIES, which is off by
// the few hundred milliseconds between boot and the first tick (Exact is
// then false).
func ReadKernelClock() (KernelClock, error) {
	var c KernelClock
	hz, hzErr := configHZ()
	mono := monotonic()
	jiffies, tlMono, tlErr := timerList()
	switch {
	case hzErr == nil:
		c.HZ, c.Source = hz, "HZ from the kernel config"
	case tlErr == nil:
		h, ok := inferHZ(jiffies, tlMono)
		if !ok {
			return c, fmt.Errorf("cannot tell the kernel's HZ: %w, and /proc/timer_list fits no known HZ", hzErr)
		}
		c.HZ, c.Source = h, "HZ inferred from /proc/timer_list"
	default:
		return c, fmt.Errorf("cannot tell the kernel's HZ: %w, and %w (run as root)", hzErr, tlErr)
	}
	if tlErr == nil {
		// Advance the reading to now, by the monotonic time since.
		c.Now = jiffies + toJiffies(max(mono-tlMono, 0), c.HZ)
		c.Exact = true
		c.Source += ", jiffies from /proc/timer_list"
		return c, nil
	}
	c.Now = initialJiffies(c.HZ) + toJiffies(mono, c.HZ)
	c.Source += ", jiffies estimated from CLOCK_MONOTONIC (/proc/timer_list: " + tlErr.Error() + ")"
	return c, nil
}

func monotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// configHZ returns CONFIG_HZ from /proc/config.gz or /boot/config-RELEASE.
func configHZ() (int, error) {
	var r io.Reader
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if r, err = gzip.NewReader(f); err != nil {
			return 0, fmt.Errorf("/proc/config.gz: %w", err)
		}
	} else {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			return 0, err
		}
		name := "/boot/config-" + unix.ByteSliceToString(u.Release[:])
		f, err := os.Open(name)
		if err != nil {
			return 0, errors.New("no /proc/config.gz nor " + name)
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_HZ="); ok {
			hz, err := strconv.Atoi(v)
			if err != nil || hz < 1 {
				return 0, fmt.Errorf("kernel config: CONFIG_HZ=%q is not a positive number", v)
			}
			return hz, nil
		}
	}
	return 0, errors.New("no CONFIG_HZ in the kernel config")
}

// timerList returns the jiffies counter and the CLOCK_MONOTONIC time
// ("now at N nsecs") of /proc/timer_list.
func timerList() (uint64, time.Duration, error) {
	data, err := os.ReadFile("/proc/timer_list")
	if err != nil {
		return 0, 0, fmt.Errorf("reading /proc/timer_list: %w", err)
	}
	return parseTimerList(data)
}

// parseTimerList returns the first "jiffies: N" value of /proc/timer_list
// and its "now at N nsecs" time.
func parseTimerList(data []byte) (uint64, time.Duration, error) {
	var jiffies uint64
	var now time.Duration
	var haveJ, haveNow bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && !(haveJ && haveNow) {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "now at "); ok && !haveNow {
			ns, err := strconv.ParseInt(strings.TrimSuffix(v, " nsecs"), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("/proc/timer_list: %q: want \"now at N nsecs\"", line)
			}
			now, haveNow = time.Duration(ns), true
		}
		if v, ok := strings.CutPrefix(line, "jiffies: "); ok && !haveJ {
			j, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("/proc/timer_list: %q: want \"jiffies: N\"", line)
			}
			jiffies, haveJ = j, true
		}
	}
	if !haveJ || !haveNow {
		return 0, 0, errors.New("/proc/timer_list: no \"jiffies:\" or \"now at\" line")
	}
	return jiffies, now, nil
}
