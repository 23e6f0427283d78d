package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, PEM, into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "roster test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS: with --tls-cert and --tls-key the server speaks HTTPS (and
// not plain HTTP), logs https URLs, and `roster healthcheck` reaches it.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	addr := freeAddr(t)
	env := map[string]string{"ROSTER_DB": filepath.Join(dir, "roster.db"), "ROSTER_ADMIN_PASSWORD": "tls-admin-pw",
		"ROSTER_TLS_CERT": certFile, "ROSTER_TLS_KEY": keyFile, "ROSTER_LOG_FORMAT": "text"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stderr := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr}, getenv(env), strings.NewReader(""), &syncBuffer{}, stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = client.Get("https://" + addr + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET https://%s/healthz: %v\n%s", addr, err, stderr)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET /healthz over TLS = %d", resp.StatusCode)
	}
	if resp, err := httpClient.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP is served beside TLS")
		}
	}
	if !strings.Contains(stderr.String(), "console=https://"+addr+"/admin/") || !strings.Contains(stderr.String(), "tls=true") {
		t.Errorf("the start-up log does not name the https URLs:\n%s", stderr)
	}
	if stdout, _, err := runOut(t, map[string]string{"ROSTER_TLS_CERT": certFile, "ROSTER_ADDR": addr}, "", "healthcheck"); err != nil || stdout != "ok\n" {
		t.Errorf("healthcheck over TLS: %v %q", err, stdout)
	}
	if _, _, err := runOut(t, map[string]string{"ROSTER_ADDR": freeAddr(t)}, "", "healthcheck"); err == nil || exitCode(err) != 1 {
		t.Errorf("healthcheck of a port where nothing listens: %v, want exit status 1", err)
	}
	// A certificate without its key is a usage error.
	_, _, err = runOut(t, nil, "", "serve", "--db", filepath.Join(dir, "x.db"), "--tls-cert", certFile)
	checkUsageError(t, err)
}
