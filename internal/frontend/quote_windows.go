package frontend

import "syscall"

// shellQuote quotes s as one argument of a Windows command line:
// Win32-OpenSSH starts a ProxyCommand with CreateProcess, not a shell.
func shellQuote(s string) string {
	return syscall.EscapeArg(s)
}
