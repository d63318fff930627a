package frontend

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
)

// Exec runs argv[0] with argv on the console knockssh has and returns its
// exit status: Windows cannot replace a process, so knockssh waits for ssh
// and ignores Ctrl-C, which the console delivers to ssh as well.
func Exec(argv []string) (status int, err error) {
	signal.Ignore(os.Interrupt)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 255, err
	}
	return 0, nil
}
