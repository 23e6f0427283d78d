//go:build !unix

package httpapi

import (
	"net"
	"syscall"
)

// rawConn returns nil: every write of a live stream goes through a
// goroutine that may wait for the connection.
func rawConn(net.Conn) syscall.RawConn { return nil }

func writeNow(syscall.RawConn, []byte) (int, error) { return 0, nil }
