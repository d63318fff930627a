//go:build !unix

package cli

// detach does nothing where ssh does not end its ProxyCommand with SIGHUP.
func detach() {}
