// Package frontend puts knockssh in front of the system ssh: [Wrapper]
// turns an ssh command line into one whose ProxyCommand is "knockssh
// --proxy" when a knock stanza applies, and [Proxy] and [Relay] are that
// ProxyCommand: knock, dial, check the server's identification string
// against the one given ssh early, and relay the connection on ssh's
// pipes.
package frontend
