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

// nowWriter makes single write(2) calls to a non-blocking socket. Its
// callback is made once per stream, not once per write: a fan-out makes
// one write per stream.
type nowWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	p   []byte
	n   int
	err error
}

func newNowWriter(conn net.Conn) *nowWriter {
	rc := rawConn(conn)
	if rc == nil {
		return nil
	}
	w := &nowWriter{rc: rc}
	w.fn = func(fd uintptr) bool {
		for {
			w.n, w.err = syscall.Write(int(fd), w.p)
			if w.err != syscall.EINTR {
				return true // never wait for the socket here
			}
		}
	}
	return w
}

// write returns how much of p the socket took at once: 0 and no error
// when it is full. Not for concurrent use.
func (w *nowWriter) write(p []byte) (int, error) {
	w.p = p
	werr := w.rc.Write(w.fn)
	n, err := max(w.n, 0), w.err
	w.p, w.n, w.err = nil, 0, nil
	if err == syscall.EAGAIN {
		err = nil
	}
	if err == nil {
		err = werr
	}
	return n, err
}
