//go:build !linux

package intel

// hugePages does nothing outside Linux.
func hugePages[T any](s []T) {}
