//go:build !android || cgo

package resolv

// Setup does nothing: outside Android the system resolver's configuration
// is where Go looks for it, and a cgo build on Android asks Android's own
// resolver.
func Setup() {}
