//go:build race

// Package race reports whether the program was built with the race
// detector, for tests that size their work by it.
package race

// Enabled is true: the race detector is on.
const Enabled = true
