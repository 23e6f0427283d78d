package webhook_test

import (
	"net/netip"
	"testing"

	"github.com/rosterhq/roster/webhook"
)

func TestRefused(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "127.5.6.7", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"169.254.1.1", "fe80::1", "fc00::1", "fd00:ec2::254", "0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "198.18.0.1", "255.255.255.255"} {
		if !webhook.Refused(netip.MustParseAddr(a)) {
			t.Errorf("%s is not refused", a)
		}
	}
	for _, a := range []string{"93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8", "::ffff:8.8.8.8"} {
		if webhook.Refused(netip.MustParseAddr(a)) {
			t.Errorf("%s is refused", a)
		}
	}
}
