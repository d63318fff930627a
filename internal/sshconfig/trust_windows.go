package sshconfig

import "io/fs"

// CheckTrust does nothing on Windows, as CheckPerm: Go's file modes do
// not show ACLs.
func CheckTrust(string, fs.FileInfo) error { return nil }

// CheckKey does nothing on Windows, as CheckPerm.
func CheckKey(string, fs.FileInfo) error { return nil }

// CheckSSHConfig does nothing on Windows, as CheckPerm.
func CheckSSHConfig(string, fs.FileInfo) error { return nil }
