package sshclient

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// windowsAgentPipe is Win32-OpenSSH's ssh-agent, which its ssh uses when
// SSH_AUTH_SOCK is not set.
const windowsAgentPipe = `\\.\pipe\openssh-ssh-agent`

// defaultAgent is the agent to ask when the config names none: $SSH_AUTH_SOCK
// (authSock), else on Windows Win32-OpenSSH's agent, else none.
func defaultAgent(goos, authSock string) string {
	if authSock == "" && goos == "windows" {
		return windowsAgentPipe
	}
	return authSock
}

// pipePath says whether addr names a Windows named pipe, \\.\pipe\NAME or
// //./pipe/NAME (ssh_config unescapes backslashes, so forward slashes are
// the easier spelling there), and returns it with backslashes.
func pipePath(addr string) (string, bool) {
	p := strings.ReplaceAll(addr, "/", `\`)
	if len(p) > len(`\\.\pipe\`) && strings.EqualFold(p[:len(`\\.\pipe\`)], `\\.\pipe\`) {
		return p, true
	}
	return "", false
}

// errPipeBusy is ERROR_PIPE_BUSY: every instance of the pipe is connected
// and the agent has not yet made a new one.
const errPipeBusy = syscall.Errno(231)

// dialAgent connects to the agent at addr: on Windows a named pipe, opened
// as a file (the agent protocol is request then response, never both at
// once, so synchronous reads and writes suffice), else a Unix socket.
func dialAgent(addr string) (io.ReadWriteCloser, error) {
	p, ok := pipePath(addr)
	if runtime.GOOS != "windows" || !ok {
		return net.Dial("unix", addr)
	}
	for try := 0; ; try++ {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if !errors.Is(err, errPipeBusy) || try == 20 {
			return f, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
