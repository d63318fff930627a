//go:build !android

package resolv

// Setup does nothing: outside Android the system resolver's configuration
// is where Go looks for it.
func Setup() {}
