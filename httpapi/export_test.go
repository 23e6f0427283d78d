package httpapi

// StreamBuffered returns the bytes of s's stream buffers in use.
func StreamBuffered(s *Server) int64 { return s.buffers.inUse() }
