// Package sshclient is an ssh client for hosts behind an Open Sesamy
// port-knocking firewall, built on golang.org/x/crypto/ssh: it reads the
// user's ssh config and knock stanzas as ssh and knockssh do, knocks when
// a stanza applies, checks host keys against known_hosts and
// authenticates with the agent, keys and passwords.
//
// [DialContext] returns an *ssh.Client, [DialConn] only the knocked TCP
// connection (for programs that bring their own ssh), and [ResolveHost]
// the settings both use. [Command] runs an ssh command line with the
// client, as "knockssh --native" does.
//
// Errors name the file and line of a bad setting. Where there is a fix to
// suggest, the error (or one it wraps) has a method Hint() string that
// says it, for a program to show apart from the error.
package sshclient
