package main

import (
	"io"
	"slices"
	"testing"
)

// TestServeSSOFlags: --password-login=false and --allowed-redirect-origins
// reach the API's configuration; an origin with a path is a usage error.
func TestServeSSOFlags(t *testing.T) {
	getenv := func(string) string { return "" }
	c, err := parseServe([]string{"--password-login=false", "--allowed-redirect-origins", "https://app.example.com, http://localhost:3000/"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.api.NoPasswordLogin || !slices.Equal(c.api.AllowedRedirectOrigins, []string{"https://app.example.com", "http://localhost:3000"}) {
		t.Fatalf("api config: NoPasswordLogin %v, origins %v", c.api.NoPasswordLogin, c.api.AllowedRedirectOrigins)
	}
	if c, err := parseServe(nil, getenv, io.Discard); err != nil || c.api.NoPasswordLogin || len(c.api.AllowedRedirectOrigins) != 0 {
		t.Fatalf("defaults: %v, %+v", err, c.api)
	}
	for _, bad := range []string{"https://app.example.com/path", "app.example.com", "ftp://x"} {
		if _, err := parseServe([]string{"--allowed-redirect-origins", bad}, getenv, io.Discard); err == nil {
			t.Errorf("--allowed-redirect-origins %q accepted", bad)
		}
	}
}
