package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is `roster serve` in a child process.
type server struct {
	cmd       *exec.Cmd
	url       string
	pprofAddr string
	done      chan error
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer runs `roster serve` on db with extra flags added.
func startServer(bin, db string, maxStreams int, profile bool, extra ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The post-activity scenario writes as a handful of ordinary users at
	// thousands a second, far past the per-user limit meant for abuse
	// (20/s): the limit is off so that the store's write rate is measured.
	args := []string{"serve", "--db", db, "--addr", addr, "--max-streams-per-user", strconv.Itoa(maxStreams), "--activity-rate", "0"}
	args = append(args, extra...)
	var paddr string
	if profile {
		if paddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", paddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ROSTER_LOG_FORMAT=json")
	cmd.Stdout = io.Discard
	cmd.Stderr = io.Discard // one log line per request would cost more than the request
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://" + addr, pprofAddr: paddr, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("roster serve exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.stop()
	return nil, errors.New("roster serve did not become ready in 60s")
}

func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		return errors.New("killed after 20s")
	}
}

// rss returns the resident set of the server process in bytes.
func (s *server) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// raiseFileLimit lifts the soft limit on open files to the hard one: the
// SSE scenario holds one socket per subscriber here and in the server.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
