package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestBinarySIGTERMUnderLoad sends SIGTERM to the built binary while
// clients read and write and streams are open: the in-flight request
// finishes, every stream ends with its "shutting down" event, no request
// gets a 5xx, and the process exits 0 within the contract's 15 s.
func TestBinarySIGTERMUnderLoad(t *testing.T) {
	bin := buildRoster(t)
	const pw = "sigterm-load-secret"
	cmd, url, done, stderr := startBinary(t, bin, filepath.Join(t.TempDir(), "roster.db"), pw)
	tok := mustLogin(t, url, "admin", pw)

	// Streams on the admin's own activities.
	type streamEnd struct {
		body string
		at   time.Time
		err  error
	}
	const streams = 4
	ends := make(chan streamEnd, streams)
	for range streams {
		req, _ := http.NewRequest("GET", url+"/api/v3/users/1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req) // no timeout: the stream must end by itself
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("stream: %d", res.StatusCode)
		}
		go func() {
			defer res.Body.Close()
			var buf bytes.Buffer
			_, err := io.Copy(&buf, bufio.NewReader(res.Body))
			ends <- streamEnd{buf.String(), time.Now(), err}
		}()
	}

	// Load: readers and writers until the server is gone.
	var ok2xx, fivexx, gone atomic.Int64
	var bad sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 20 * time.Second}
	for i := range 8 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var req *http.Request
				if i%2 == 0 {
					req, _ = http.NewRequest("GET", url+"/api/v3/users?page_size=10", nil)
				} else {
					b, _ := json.Marshal(map[string]any{"verb": "load.write", "data": map[string]int{"n": n}})
					req, _ = http.NewRequest("POST", url+"/api/v3/activities", bytes.NewReader(b))
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := hc.Do(req)
				if err != nil {
					gone.Add(1) // refused or cut once the listener closed
					time.Sleep(10 * time.Millisecond)
					continue
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				switch {
				case res.StatusCode >= 500:
					fivexx.Add(1)
					bad.Store(res.StatusCode, string(body))
				case res.StatusCode < 300:
					ok2xx.Add(1)
				default:
					bad.Store(res.StatusCode, string(body))
				}
			}
		})
	}
	time.Sleep(time.Second)
	finish := slowLogin(t, url, "admin", pw)
	time.Sleep(200 * time.Millisecond) // let the server read the request head
	before := ok2xx.Load()
	sigterm := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if status := finish(); status != http.StatusCreated {
		t.Errorf("in-flight login during SIGTERM: status %d, want 201", status)
	}
	for range streams {
		select {
		case end := <-ends:
			if !strings.Contains(end.body, "event: error") || !strings.Contains(end.body, "shutting down") {
				t.Errorf("stream ended (%v) without the shutdown event:\n%s", end.err, end.body)
			}
			if d := end.at.Sub(sigterm); d > 5*time.Second {
				t.Errorf("stream ended %v after SIGTERM", d)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("a stream was still open 15 s after SIGTERM")
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0\nstderr:\n%s", err, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after SIGTERM\nstderr:\n%s", stderr)
	}
	exited := time.Since(sigterm)
	close(stop)
	wg.Wait()
	bad.Range(func(k, v any) bool {
		t.Errorf("a request under shutdown got %v: %v", k, v)
		return true
	})
	if fivexx.Load() > 0 {
		t.Errorf("%d requests got a 5xx", fivexx.Load())
	}
	if before == 0 {
		t.Error("no request succeeded before SIGTERM")
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("stderr mentions a panic:\n%s", stderr)
	}
	t.Logf("SIGTERM under load: %d requests succeeded (%d before the signal), %d refused after the listener closed; %d streams ended; exit 0 after %v",
		ok2xx.Load(), before, gone.Load(), streams, exited.Round(time.Millisecond))
}
