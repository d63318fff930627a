package sshconfig

import "io/fs"

// CheckTrust refuses a file that steers the secret (an ssh config giving
// a Knock* value other than the sequence) when someone other than the
// user, SYSTEM or Administrators owns it or may write it, judging its
// owner and DACL as CheckPerm does; who may read it is not judged.
func CheckTrust(path string, fi fs.FileInfo) error {
	_, err := judgeFile(path, fi, false)
	return err
}

// CheckKey refuses a private key that anyone but the user, SYSTEM or
// Administrators owns, may write or may read, as Win32-OpenSSH does.
func CheckKey(path string, fi fs.FileInfo) error {
	_, err := judgeFile(path, fi, true)
	return err
}

// CheckSSHConfig refuses an ssh config as CheckTrust does: Win32-OpenSSH
// judges its owner and who may write it.
func CheckSSHConfig(path string, fi fs.FileInfo) error { return CheckTrust(path, fi) }
