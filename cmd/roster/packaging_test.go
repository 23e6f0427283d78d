package main

import (
	"context"
	"debug/elf"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStaticBuild: the binary builds without cgo as the Dockerfile builds
// it, with no ELF interpreter (static), and runs.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "roster")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "timetzdata", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Skipf("not an ELF platform: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the CGO_ENABLED=0 binary has an ELF interpreter: it is not static")
		}
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "roster ") {
		t.Errorf("the static binary: %v %q", err, out)
	}
}

// TestDockerfile holds the Dockerfile to what the issue asks (static, no
// cgo, non-root, a volume, a health check the image can run) and, when a
// Docker daemon answers, builds the image and runs it until it is healthy.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "\nUSER 65532:65532\n", "\nVOLUME /data\n",
		`HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/roster", "healthcheck"]`,
		"\nFROM scratch\n", "ROSTER_DB=/data/roster.db"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if testing.Short() {
		t.Skip("docker build is slow")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker build skipped: no docker command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("docker build skipped: no Docker daemon answers (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	tag := "roster-test:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	build := exec.Command("docker", "build", "-t", tag, "../..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	if out, _ := exec.Command("docker", "image", "inspect", "--format", "{{.Config.User}}", tag).Output(); strings.TrimSpace(string(out)) != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532", out)
	}
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("docker", "run", "-d", "--rm", "--health-interval=1s", "-p", "127.0.0.1:"+port+":8080",
		"-e", "ROSTER_ADMIN_PASSWORD=docker-admin-pw", tag).Output()
	if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := exec.Command("docker", "inspect", "--format", "{{.State.Health.Status}}", id).Output()
		if strings.TrimSpace(string(st)) == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", id).CombinedOutput()
			t.Fatalf("container not healthy within 60 s (status %q); logs:\n%s", st, logs)
		}
		time.Sleep(time.Second)
	}
	mustLogin(t, "http://"+addr, "admin", "docker-admin-pw")
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz through the container's port: %v", err)
	}
}

// TestSystemdUnit: the unit runs serve with sandboxing, and systemd
// accepts it where systemd-analyze exists.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("../../deploy/roster.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"ExecStart=/usr/local/bin/roster serve", "DynamicUser=yes", "StateDirectory=roster",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes", "KillSignal=SIGTERM"} {
		if !strings.Contains(unit, want) {
			t.Errorf("deploy/roster.service lacks %q", want)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	out, _ := exec.Command("systemd-analyze", "verify", "../../deploy/roster.service").CombinedOutput()
	for line := range strings.Lines(string(out)) {
		// The binary is not installed here; anything else is a mistake.
		if strings.TrimSpace(line) != "" && !strings.Contains(line, "/usr/local/bin/roster") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}
