// Package sshconfig reads ssh_config(5) files as OpenSSH's ssh does: one
// lexer (readconf.c's keyword split and misc.c's argv_split), Host
// patterns, Include, the expansion of ~, ${VAR} and %-tokens in file
// names, and the permission checks on files that hold secrets.
//
// It knows no keyword but Host, Match and Include: [Walker] hands every
// other line to its caller, who gives it meaning. The knock stanzas and
// the native ssh client are both read with it.
package sshconfig
