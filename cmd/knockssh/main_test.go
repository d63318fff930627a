package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// knocksshBin is the real knockssh binary, built once by TestMain, that the
// end-to-end tests run (in the lab's client namespace) and the testscript
// files find first on PATH.
var knocksshBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "knockssh-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		knocksshBin = filepath.Join(dir, "knockssh")
		if out, err := exec.Command("go", "build", "-o", knocksshBin, ".").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building knockssh: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// TestScripts pins the command line's behaviour without a network: usage,
// flag errors, version, and errors that must not reveal the sequence.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(knocksshBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			// $SHORT: a short directory of the script's own, for sockets,
			// whose paths may not exceed 104 bytes ($WORK's are long).
			short, err := os.MkdirTemp("", "ks")
			if err != nil {
				return err
			}
			env.Defer(func() { os.RemoveAll(short) })
			env.Setenv("SHORT", short)
			return nil
		},
	})
}
