package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// ParsePublicURL checks a --public-url value: an absolute http(s) URL with
// a host and no query or fragment. Its path, if any, prefixes every link.
func ParsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL without query, fragment or user", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// ParseTrustedProxies reads a comma-separated list of addresses and CIDR
// prefixes (--trusted-proxies).
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// edgeInfo is what the server concluded about where a request came from.
type edgeInfo struct {
	client    string // the client address the limits count by
	addr      string // the client's address, for logs
	origin    string // scheme://host[/prefix] of links
	requestID string // X-Request-Id of the request and its answer
}

const edgeKey ctxKey = 100

// edge works out the client address, the origin of links and the request
// id once per request: the peer's address unless the peer is a trusted
// proxy, in which case X-Forwarded-For is read from the right, skipping
// trusted hops; links use --public-url, else (behind a trusted proxy)
// X-Forwarded-Proto and X-Forwarded-Host, else the request itself; the
// request id is a trusted proxy's X-Request-Id, else a new random one.
// Every answer gets X-Content-Type-Options: nosniff and X-Request-Id.
func (s *Server) edge(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		peer := remoteAddr(r)
		trusted := s.trusted(peer)
		client := peer
		if trusted {
			client = s.forwardedFor(r, peer)
		}
		info := edgeInfo{client: clientKey(client), addr: client.String()}
		if id := r.Header.Get("X-Request-Id"); trusted && validRequestID(id) {
			info.requestID = id
		} else {
			info.requestID = rand.Text()
		}
		w.Header().Set("X-Request-Id", info.requestID)
		switch {
		case s.publicURL != nil:
			info.origin = s.publicURL.String()
		default:
			scheme, host := "http", r.Host
			if r.TLS != nil {
				scheme = "https"
			}
			if trusted {
				if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
					scheme = p
				}
				if fh := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(fh) {
					host = fh
				}
			}
			info.origin = scheme + "://" + host
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), edgeKey, info)))
	})
}

func edgeOf(r *http.Request) (edgeInfo, bool) {
	e, ok := r.Context().Value(edgeKey).(edgeInfo)
	return e, ok
}

// validRequestID accepts a proxy's request id that is safe in a header
// and a log line: 1 to 128 letters, digits and ._:/+=- characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("._:/+=-", c)) {
			return false
		}
	}
	return true
}

// requestID is the id of r (see edge).
func requestID(r *http.Request) string {
	e, _ := edgeOf(r)
	return e.requestID
}

// clientIP is the client's address for logs: the peer, or behind trusted
// proxies the first untrusted hop.
func clientIP(r *http.Request) string {
	if e, ok := edgeOf(r); ok {
		return e.addr
	}
	return remoteAddr(r).String()
}

// clientAddress is the client address of r as the limits count it.
func clientAddress(r *http.Request) string {
	if e, ok := edgeOf(r); ok {
		return e.client
	}
	return clientKey(remoteAddr(r))
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (s *Server) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor returns the address of the first hop, reading
// X-Forwarded-For from the right, that is not a trusted proxy; a malformed
// entry ends the walk at the last trusted hop (what that proxy saw).
func (s *Server) forwardedFor(r *http.Request, peer netip.Addr) netip.Addr {
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return last
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a
		}
		last = a
	}
	return last
}

// clientKey names a client address for the limits: IPv4 as is, IPv6 by its
// /64, since one subscriber usually holds a whole /64.
func clientKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func firstValue(v string) string {
	f, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(f))
}

// validHost accepts a host[:port] of letters, digits, '.', '-', ':' and
// IPv6 brackets, so that a forwarded host cannot inject into links.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}
