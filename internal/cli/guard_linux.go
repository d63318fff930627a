package cli

import (
	"fmt"
	"log/syslog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
)

// startReverter starts the reverter of tag's pending install id: this
// binary, "knockssh --revert --tag TAG" with reverterEnv=id, in a session
// of its own (so that the end of the ssh session that ran --install does
// not end it), its standard streams /dev/null. It returns its PID.
func startReverter(tag, id string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe, "--revert", "--tag", tag)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, reverterEnv+"=") })
	cmd.Env = append(env, reverterEnv+"="+id)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return pid, nil
}

// stopReverter ends process pid with SIGTERM if it is still the reverter
// of install id (its environment says so): a PID may have been reused.
func stopReverter(pid int, id string) {
	if pid <= 0 {
		return
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), reverterEnv+"="+id) {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
}

// logLine says msg to syslog, where there is one.
func logLine(msg string) {
	w, err := syslog.New(syslog.LOG_NOTICE|syslog.LOG_AUTH, "knockssh")
	if err != nil {
		return
	}
	defer w.Close()
	w.Notice(msg)
}
