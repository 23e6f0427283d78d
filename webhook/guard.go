package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefusedAddress is the error of a connection to an address the guard
// refuses.
var ErrRefusedAddress = errors.New("destination address refused (loopback, private, link-local or metadata)")

// blocked are ranges beyond what netip classifies that no webhook should
// reach: this network, carrier-grade NAT, IETF protocol assignments,
// benchmarking, and NAT64 prefixes that could embed a private IPv4.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Refused reports whether the guard refuses a connection to ip: loopback,
// private, link-local (which holds the cloud metadata address
// 169.254.169.254; fd00:ec2::254 is private), unspecified, multicast, and
// the ranges of blocked, also when written as IPv4-mapped IPv6.
func Refused(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return true
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// guardControl checks the address of every connection after DNS, just
// before connect, so that a name that resolves (or is rebound) to a
// refused address cannot be reached.
func guardControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return ErrRefusedAddress
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || Refused(ip) {
		return ErrRefusedAddress
	}
	return nil
}

// NewClient returns the HTTP client of deliveries: timeout for the whole
// exchange, no redirects followed (a 3xx is a failed attempt), no proxy
// from the environment, and unless allowPrivate the guard on every
// connection. It keeps up to idlePerHost idle connections to one host (the
// deliverer's worker count: several webhooks may share a receiver).
func NewClient(timeout time.Duration, allowPrivate bool, idlePerHost int) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   idlePerHost,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
