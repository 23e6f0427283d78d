package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/webhook"
)

// TestWebhookRetries: a failed attempt is retried after about 5 s (the
// server's clock), with the same webhook-id, and a success ends the
// failing streak.
func TestWebhookRetries(t *testing.T) {
	eachStore(t, testWebhookRetries)
}

func testWebhookRetries(t *testing.T) {
	e := newHookEnv(t, webhook.Options{AllowPrivate: true}, true)
	clock := e.clock
	rc := newReceiver(t, func(w http.ResponseWriter, n int) {
		if n < 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(strings.Repeat("x", 3000)))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	id, secret := e.createHook(t, map[string]any{"url": rc.srv.URL})
	rc.setSecrets(secret)
	e.post(t, "document.created")
	rc.waitRequests(1, 10*time.Second)
	d := e.waitDeliveries(t, id, 1)[0]
	at, _ := time.Parse(time.RFC3339Nano, d["at"].(string))
	next, _ := time.Parse(time.RFC3339Nano, d["nextAttemptAt"].(string))
	if d["status"] != float64(500) || d["error"] != "HTTP 500" || len(d["responseBody"].(string)) != 1024 ||
		next.Sub(at) < 4*time.Second || next.Sub(at) > 6*time.Second {
		t.Fatalf("first attempt %v (retry in %s)", d, next.Sub(at))
	}
	hook := e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if hook["failingSince"] == nil || hook["lastStatus"] != float64(500) {
		t.Fatalf("after a failure: %v", hook)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests before the retry is due", n)
	}
	clock.Advance(6 * time.Second)
	rc.waitRequests(2, 10*time.Second)
	d2 := e.waitDeliveries(t, id, 2)[0]
	at2, _ := time.Parse(time.RFC3339Nano, d2["at"].(string))
	next2, _ := time.Parse(time.RFC3339Nano, d2["nextAttemptAt"].(string))
	if d2["attempt"] != float64(2) || next2.Sub(at2) < 24*time.Second || next2.Sub(at2) > 36*time.Second {
		t.Fatalf("second attempt %v (retry in %s)", d2, next2.Sub(at2))
	}
	clock.Advance(40 * time.Second)
	got := rc.waitRequests(3, 10*time.Second)
	if got[0].id != got[1].id || got[1].id != got[2].id {
		t.Fatalf("webhook-ids differ across retries: %q %q %q", got[0].id, got[1].id, got[2].id)
	}
	for _, r := range got {
		if r.verifyErr != nil {
			t.Fatal(r.verifyErr)
		}
	}
	d3 := e.waitDeliveries(t, id, 3)[0]
	if d3["status"] != float64(200) || d3["attempt"] != float64(3) || d3["nextAttemptAt"] != nil {
		t.Fatalf("third attempt %v", d3)
	}
	hook = e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if hook["failingSince"] != nil || hook["lastStatus"] != float64(200) || hook["enabled"] != true {
		t.Fatalf("after success: %v", hook)
	}
	clock.Advance(time.Hour)
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.requests()); n != 3 {
		t.Fatalf("%d requests after delivery, want 3", n)
	}
}

func TestRetryDelaySchedule(t *testing.T) {
	want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for i, w := range want {
		if lo, hi := webhook.RetryDelay(i+1, 0), webhook.RetryDelay(i+1, 0.999999); lo != w*8/10 || hi < w*119/100 || hi > w*12/10 {
			t.Errorf("attempt %d: %s..%s, want %s ±20%%", i+1, lo, hi, w)
		}
	}
}

// TestWebhookGoneDisables: a 410 disables the webhook at once, records
// webhook.disabled, stops attempts; re-enabling resumes the pending one.
func TestWebhookGoneDisables(t *testing.T) {
	eachStore(t, testWebhookGoneDisables)
}

func testWebhookGoneDisables(t *testing.T) {
	e := newHookEnv(t, webhook.Options{AllowPrivate: true})
	gone := true
	rc := newReceiver(t, func(w http.ResponseWriter, n int) {
		if n == 0 && gone {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	id, secret := e.createHook(t, map[string]any{"url": rc.srv.URL, "verbs": []string{"document.*"}})
	rc.setSecrets(secret)
	first := e.post(t, "document.created")
	rc.waitRequests(1, 10*time.Second)
	e.waitDeliveries(t, id, 1)
	hook := e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if hook["enabled"] != false || !strings.Contains(fmt.Sprint(hook["disabledReason"]), "410") {
		t.Fatalf("after 410: %v", hook)
	}
	feed := e.do("GET", fmt.Sprintf("/api/v3/users/%d/activities?verb=webhook.disabled", e.Admin.ID), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if feed["count"] != float64(1) {
		t.Fatalf("webhook.disabled activities: %v", feed)
	}
	e.post(t, "document.created") // a disabled webhook gets no new jobs
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests to a disabled webhook", n)
	}
	e.do("PATCH", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, map[string]any{"enabled": true}).expect(t, http.StatusOK)
	rc.waitRequests(2, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	got := rc.requests()
	if len(got) != 2 || !strings.Contains(string(got[1].body), fmt.Sprintf(`"id":%d,`, first)) || got[0].id != got[1].id {
		t.Fatalf("after re-enabling: %s (%s vs %s)", got[1].body, got[0].id, got[1].id)
	}
	hook = e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if hook["enabled"] != true || hook["disabledReason"] != nil {
		t.Fatalf("re-enabled: %v", hook)
	}
}

// TestWebhookDisabledAfterThreeDays: a receiver that always fails is
// retried on the schedule and disabled once it has failed for 3 days.
func TestWebhookDisabledAfterThreeDays(t *testing.T) {
	eachStore(t, testWebhookDisabledAfterThreeDays)
}

func testWebhookDisabledAfterThreeDays(t *testing.T) {
	e := newHookEnv(t, webhook.Options{AllowPrivate: true}, true)
	clock := e.clock
	rc := newReceiver(t, func(w http.ResponseWriter, n int) { w.WriteHeader(http.StatusServiceUnavailable) })
	id, _ := e.createHook(t, map[string]any{"url": rc.srv.URL})
	e.post(t, "document.created")
	start := clock.Now()
	ctx := context.Background()
	for n := 1; ; n++ {
		rc.waitRequests(n, 10*time.Second)
		var w *roster.Webhook
		deadline := time.Now().Add(10 * time.Second)
		for {
			// The log first: the attempt's row and the webhook's state
			// commit together, so a webhook read after the row is seen
			// is never older than it.
			list, _, err := e.db.FindWebhookDeliveries(ctx, id, roster.Page{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) == 1 && list[0].Attempt == n {
				if w, err = e.db.FindWebhookByID(ctx, id); err != nil {
					t.Fatal(err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("attempt %d not logged", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !w.Enabled {
			if elapsed := clock.Now().Sub(start); elapsed < 72*time.Hour || elapsed > 72*time.Hour+13*time.Hour {
				t.Fatalf("disabled after %s", elapsed)
			}
			if !strings.Contains(w.DisabledReason, "3 days") {
				t.Fatalf("reason %q", w.DisabledReason)
			}
			break
		}
		if clock.Now().Sub(start) > 90*time.Hour {
			t.Fatalf("still enabled after %s and %d attempts", clock.Now().Sub(start), n)
		}
		clock.Advance(13 * time.Hour) // above the longest jittered delay (12 h)
	}
}

// TestWebhookTimeoutRedirectAndErrors: a slow receiver times out, a
// redirect is not followed, a closed port is a connection error; each is
// logged and retried.
func TestWebhookTimeoutRedirectAndErrors(t *testing.T) {
	eachStore(t, testWebhookTimeoutRedirectAndErrors)
}

func testWebhookTimeoutRedirectAndErrors(t *testing.T) {
	e := newHookEnv(t, webhook.Options{AllowPrivate: true, Timeout: 300 * time.Millisecond})
	slow := newReceiver(t, func(w http.ResponseWriter, n int) { time.Sleep(time.Second) })
	target := newReceiver(t, nil)
	redirect := newReceiver(t, func(w http.ResponseWriter, n int) {
		w.Header().Set("Location", target.srv.URL)
		w.WriteHeader(http.StatusFound)
	})
	closed := newReceiver(t, nil)
	closedURL := closed.srv.URL
	closed.srv.Close()
	slowID, _ := e.createHook(t, map[string]any{"url": slow.srv.URL})
	redirID, _ := e.createHook(t, map[string]any{"url": redirect.srv.URL})
	closedID, _ := e.createHook(t, map[string]any{"url": closedURL})
	e.post(t, "document.created")
	d := e.waitDeliveries(t, slowID, 1)[0]
	if d["status"] != nil || !strings.Contains(fmt.Sprint(d["error"]), "no answer within") || d["nextAttemptAt"] == nil ||
		d["durationMs"].(float64) < 250 || d["durationMs"].(float64) > 2000 {
		t.Fatalf("timeout: %v", d)
	}
	d = e.waitDeliveries(t, redirID, 1)[0]
	if d["status"] != float64(302) || d["error"] != "redirect not followed" || d["nextAttemptAt"] == nil {
		t.Fatalf("redirect: %v", d)
	}
	if n := len(target.requests()); n != 0 {
		t.Fatalf("redirect followed: %d requests at the target", n)
	}
	d = e.waitDeliveries(t, closedID, 1)[0]
	if d["status"] != nil || !strings.Contains(fmt.Sprint(d["error"]), "connection failed") || d["nextAttemptAt"] == nil {
		t.Fatalf("closed port: %v", d)
	}
}

// TestWebhookSlowReceiverIsolated: a receiver that hangs holds only its
// own workers: while its attempts hang, every post is answered and another
// webhook gets every activity. (No time bound: the slow receiver hangs
// until the test releases it, far longer than the posts take.)
func TestWebhookSlowReceiverIsolated(t *testing.T) {
	eachStore(t, testWebhookSlowReceiverIsolated)
}

func testWebhookSlowReceiverIsolated(t *testing.T) {
	e := newHookEnv(t, webhook.Options{AllowPrivate: true, Timeout: time.Minute, Workers: 8, PerWebhook: 2})
	release := make(chan struct{})
	var answered atomic.Int64
	slow := newReceiver(t, func(w http.ResponseWriter, n int) {
		<-release
		answered.Add(1)
	})
	defer close(release)
	fast := newReceiver(t, nil)
	e.createHook(t, map[string]any{"url": slow.srv.URL})
	e.createHook(t, map[string]any{"url": fast.srv.URL})
	e.post(t, "document.created")
	slow.waitRequests(1, 10*time.Second) // an attempt is hanging
	for range 29 {
		e.post(t, "document.created")
	}
	fast.waitRequests(30, 20*time.Second)
	if n := answered.Load(); n != 0 {
		t.Fatalf("the slow receiver answered %d requests before its release", n)
	}
	if n := len(slow.requests()); n > 2 {
		t.Fatalf("slow receiver has %d requests in flight, want at most 2 (per-webhook bound)", n)
	}
}

// TestWebhookGuard: without --webhook-allow-private, destinations on
// loopback (by address, IPv6, or a name resolving to 127.0.0.1), private
// and link-local/metadata addresses are refused at connection time.
func TestWebhookGuard(t *testing.T) {
	eachStore(t, testWebhookGuard)
}

func testWebhookGuard(t *testing.T) {
	e := newHookEnv(t, webhook.Options{Timeout: 2 * time.Second})
	rc := newReceiver(t, nil)
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":")+1:]
	for _, u := range []string{rc.srv.URL, "http://localhost:" + port + "/", "http://[::1]:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.0.1:8080/"} {
		id, _ := e.createHook(t, map[string]any{"url": u, "verbs": []string{"document.*"}})
		d := e.do("POST", fmt.Sprintf("/api/v3/webhooks/%d/test", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
		if d["status"] != nil || !strings.Contains(fmt.Sprint(d["error"]), "refused") {
			t.Errorf("%s: test send %v", u, d)
		}
	}
	e.post(t, "document.created")
	hooks := e.do("GET", "/api/v3/webhooks", e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)["results"].([]any)
	for _, h := range hooks {
		id := int64(h.(map[string]any)["id"].(float64))
		d := e.waitDeliveries(t, id, 2)[0]
		if d["activityId"] == nil || !strings.Contains(fmt.Sprint(d["error"]), "refused") || d["nextAttemptAt"] == nil {
			t.Errorf("webhook %v: %v", h.(map[string]any)["url"], d)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
}
