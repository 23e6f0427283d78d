package httpapi

import "time"

// StreamBuffered returns the bytes of s's stream buffers in use.
func StreamBuffered(s *Server) int64 { return s.buffers.inUse() }

// SetStreamWriteTimeout sets how long each write to a stream of s may
// wait (streamWriteTimeout otherwise); call it before s serves a stream.
func SetStreamWriteTimeout(s *Server, d time.Duration) { s.writeTimeout = d }
