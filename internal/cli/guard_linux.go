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

// reverterRunning reports whether process pid is the reverter of install
// id (its environment says so): a PID may have been reused.
func reverterRunning(pid int, id string) bool {
	if pid <= 0 {
		return false
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	return err == nil && slices.Contains(strings.Split(string(env), "\x00"), reverterEnv+"="+id)
}

// stopReverter ends process pid with SIGTERM if it is still the reverter
// of install id.
func stopReverter(pid int, id string) {
	if reverterRunning(pid, id) {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

// initNetIno is the inode of the initial network namespace on kernels that
// give it a fixed one (as they have long done for the other namespaces'
// initial ones); older kernels number it as any other.
const initNetIno = 0xEFFFFFF9

// netnsName returns "net-INODE" when knockssh runs in a network namespace
// other than the initial one, INODE being the namespace's, and "" in the
// initial one: the namespace of PID 1 where knockssh may read it (root
// may not, in some sandboxes), else the one of inode initNetIno. Where it
// can tell neither, any namespace is a net-INODE.
func netnsName() string {
	self, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return ""
	}
	st, ok := self.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	if init, err := os.Stat("/proc/1/ns/net"); err == nil {
		if os.SameFile(self, init) {
			return ""
		}
	} else if st.Ino == initNetIno {
		return ""
	}
	return fmt.Sprintf("net-%d", st.Ino)
}

// overSSH reports whether knockssh runs in an ssh session: SSH_CONNECTION
// is set, or, as sudo's env_reset drops it, sshd is an ancestor.
func overSSH() bool {
	if os.Getenv("SSH_CONNECTION") != "" {
		return true
	}
	return sshdAncestor(os.Getppid(), procStat)
}

// procStat returns process pid's command name and parent from
// /proc/PID/stat.
func procStat(pid int) (comm string, ppid int, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	return parseStat(string(data))
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
