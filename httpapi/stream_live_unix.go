//go:build unix

package httpapi

import (
	"net"
	"syscall"
)

// rawConn returns the descriptor access of conn, or nil.
func rawConn(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// writeNow makes one write(2) of p to the non-blocking socket of rc and
// returns how much it took: 0 and no error when the socket is full.
func writeNow(rc syscall.RawConn, p []byte) (n int, err error) {
	werr := rc.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), p)
			if err != syscall.EINTR {
				return true // never wait for the socket here
			}
		}
	})
	if n < 0 {
		n = 0
	}
	if err == syscall.EAGAIN {
		err = nil
	}
	if err == nil {
		err = werr
	}
	return n, err
}
