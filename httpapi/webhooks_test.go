package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/webhook"
)

// lateTester lets the env's server take a Deliverer built after it (the
// Deliverer needs the env's store).
type lateTester struct{ d *webhook.Deliverer }

func (l *lateTester) Test(ctx context.Context, id int64) (*roster.WebhookDelivery, error) {
	return l.d.Test(ctx, id)
}

// hookEnv is an env with a running Deliverer.
type hookEnv struct {
	*env
	d     *webhook.Deliverer
	clock *roster.TestClock // nil unless asked for
}

// newHookEnv starts an env and a Deliverer on its store; opts may set the
// timeout, workers and guard (AllowPrivate is the caller's choice). With
// stoppedClock the store and the Deliverer read a roster.TestClock, installed
// before the Deliverer starts.
func newHookEnv(t *testing.T, opts webhook.Options, stoppedClock ...bool) *hookEnv {
	t.Helper()
	lt := &lateTester{}
	e := newEnvWith(t, httpapi.Config{Webhooks: lt})
	var clock *roster.TestClock
	if len(stoppedClock) > 0 && stoppedClock[0] {
		clock = installClock(e)
	}
	inst, err := e.db.Installation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Encode, opts.FormatTime, opts.Installation = e.db, httpapi.ActivityJSON, httpapi.FormatTime, inst
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return e.db.Now() }
	}
	d := webhook.New(opts)
	lt.d = d
	e.db.OnPublish(func(int64) {
		e.broker.Notify()
		d.Notify()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &hookEnv{env: e, d: d, clock: clock}
}

// received is one request a receiver got.
type received struct {
	id, timestamp, signature string
	body                     []byte
	verifyErr                error
}

// receiver is a webhook endpoint on a loopback port that checks every
// signature with the Standard Webhooks reference library (not the
// server's code). answer decides the response to the n-th request (0-based).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret []string // any of them must verify
	got    []received
	answer func(w http.ResponseWriter, n int)
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter, n int)) *receiver {
	rc := &receiver{t: t, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rec := received{id: r.Header.Get("webhook-id"), timestamp: r.Header.Get("webhook-timestamp"),
			signature: r.Header.Get("webhook-signature"), body: body}
		rec.verifyErr = fmt.Errorf("no secret verified")
		for _, s := range rc.secret {
			wh, err := standardwebhooks.NewWebhook(s)
			if err != nil {
				rec.verifyErr = err
				break
			}
			// The timestamp is the server's clock, which tests move.
			if err := wh.VerifyIgnoringTimestamp(body, r.Header); err == nil {
				rec.verifyErr = nil
				break
			}
		}
		n := len(rc.got)
		rc.got = append(rc.got, rec)
		answer := rc.answer
		rc.mu.Unlock()
		if answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		answer(w, n)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setSecrets(s ...string) {
	rc.mu.Lock()
	rc.secret = s
	rc.mu.Unlock()
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitRequests waits until the receiver has at least n requests.
func (rc *receiver) waitRequests(n int, within time.Duration) []received {
	rc.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := rc.requests()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("receiver got %d requests within %s, want %d", len(got), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *hookEnv) createHook(t *testing.T, body map[string]any) (id int64, secret string) {
	t.Helper()
	r := e.do("POST", "/api/v3/webhooks", e.AdminToken, body).expect(t, http.StatusCreated)
	m := r.JSON(t)
	secret, _ = m["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	id = int64(m["id"].(float64))
	if loc := r.Header.Get("Location"); loc != fmt.Sprintf("/api/v3/webhooks/%d", id) {
		t.Fatalf("Location %q", loc)
	}
	return id, secret
}

func (e *hookEnv) post(t *testing.T, verb string) int64 {
	t.Helper()
	r := e.do("POST", "/api/v3/activities", e.AdminToken, map[string]any{"verb": verb, "data": map[string]any{"n": verb}}).expect(t, http.StatusCreated)
	return int64(r.JSON(t)["id"].(float64))
}

func (e *hookEnv) deliveries(t *testing.T, id int64) []map[string]any {
	t.Helper()
	r := e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d/deliveries?page_size=1000", id), e.AdminToken, nil).expect(t, http.StatusOK)
	var p struct {
		Count   int              `json:"count"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Count != len(p.Results) {
		t.Fatalf("count %d, %d results", p.Count, len(p.Results))
	}
	return p.Results
}

// waitDeliveries waits until the webhook's log has at least n attempts.
func (e *hookEnv) waitDeliveries(t *testing.T, id int64, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.deliveries(t, id)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries logged, want %d: %v", len(got), n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhookManagement(t *testing.T) {
	eachStore(t, testWebhookManagement)
}

func testWebhookManagement(t *testing.T) {
	e := newHookEnv(t, webhook.Options{AllowPrivate: true})
	ws := e.do("POST", "/api/v3/workspaces", e.AdminToken, map[string]any{"name": "Hooks"}).expect(t, http.StatusCreated).JSON(t)
	id, secret := e.createHook(t, map[string]any{"url": "https://example.com/hook", "description": "CRM",
		"verbs": []string{"user.*", "document.created"}, "workspace": ws["id"]})
	got := e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if _, ok := got["secret"]; ok {
		t.Fatalf("GET shows the secret: %v", got)
	}
	if got["url"] != "https://example.com/hook" || got["description"] != "CRM" || got["enabled"] != true || got["workspace"] != ws["id"] ||
		got["lastDeliveryAt"] != nil || got["lastStatus"] != nil || got["failingSince"] != nil || got["disabledReason"] != nil {
		t.Fatalf("GET = %v", got)
	}
	if v := got["verbs"].([]any); len(v) != 2 || v[0] != "user.*" {
		t.Fatalf("verbs = %v", v)
	}
	list := e.do("GET", "/api/v3/webhooks", e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if list["count"] != float64(1) || strings.Contains(fmt.Sprint(list), secret) {
		t.Fatalf("list = %v", list)
	}
	p := e.do("PATCH", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, map[string]any{"workspace": nil, "verbs": []string{}, "enabled": false}).
		expect(t, http.StatusOK).JSON(t)
	if p["workspace"] != nil || len(p["verbs"].([]any)) != 0 || p["enabled"] != false {
		t.Fatalf("PATCH = %v", p)
	}
	rot := e.do("POST", fmt.Sprintf("/api/v3/webhooks/%d/rotate-secret", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if s, _ := rot["secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Fatalf("rotate = %v", rot)
	}
	// Bad input changes nothing.
	for _, body := range []map[string]any{
		{"url": "ftp://example.com/"}, {"url": "not a url"}, {"url": "https://user:pw@example.com/"},
		{"verbs": []string{"User.*"}}, {"verbs": "user.*"}, {"workspace": 999999}, {"workspace": "x"}, {"enabled": "yes"}, {"secret": "whsec_x", "colour": 1},
	} {
		e.do("PATCH", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, body).expect(t, http.StatusBadRequest)
	}
	e.do("POST", "/api/v3/webhooks", e.AdminToken, map[string]any{"description": "no url"}).expect(t, http.StatusBadRequest)
	after := e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if after["url"] != "https://example.com/hook" || after["enabled"] != false {
		t.Fatalf("after bad input: %v", after)
	}
	// Admins only.
	u := e.createUser("plain", false, "")
	tok := e.token(u)
	e.do("GET", "/api/v3/webhooks", tok, nil).expect(t, http.StatusForbidden)
	e.do("POST", "/api/v3/webhooks", tok, map[string]any{"url": "https://example.com/"}).expect(t, http.StatusForbidden)
	e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), tok, nil).expect(t, http.StatusForbidden)
	e.do("POST", fmt.Sprintf("/api/v3/webhooks/%d/rotate-secret", id), tok, nil).expect(t, http.StatusForbidden)
	e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d/deliveries", id), tok, nil).expect(t, http.StatusForbidden)
	e.do("GET", "/api/v3/webhooks", "", nil).expect(t, http.StatusUnauthorized)
	e.do("DELETE", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusNoContent)
	e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusNotFound)
	e.do("GET", "/api/v3/webhooks/abc", e.AdminToken, nil).expect(t, http.StatusNotFound)
	// Every change is an activity.
	feed := e.do("GET", fmt.Sprintf("/api/v3/users/%d/activities?verb=webhook.*", e.Admin.ID), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if feed["count"] != float64(4) {
		t.Fatalf("webhook activities: %v", feed)
	}
}

// TestWebhookDelivery: matching activities arrive signed, with the
// activity as the feed shows it; others do not arrive.
func TestWebhookDelivery(t *testing.T) {
	eachStore(t, testWebhookDelivery)
}

func testWebhookDelivery(t *testing.T) {
	e := newHookEnv(t, webhook.Options{AllowPrivate: true})
	rc := newReceiver(t, nil)
	id, secret := e.createHook(t, map[string]any{"url": rc.srv.URL + "/in", "verbs": []string{"document.*"}})
	rc.setSecrets(secret)
	var want []int64
	for i := range 6 {
		want = append(want, e.post(t, "document.created"))
		if i%2 == 0 {
			e.post(t, "other.thing")
		}
	}
	rc.waitRequests(len(want), 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	got := rc.requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	feed := e.do("GET", fmt.Sprintf("/api/v3/users/%d/activities?verb=document.created&page_size=100", e.Admin.ID), e.AdminToken, nil).expect(t, http.StatusOK)
	var page struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(feed.Body, &page); err != nil {
		t.Fatal(err)
	}
	asFeed := map[int64]string{}
	for _, raw := range page.Results {
		var a struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(raw, &a)
		asFeed[a.ID] = string(raw)
	}
	ids := map[string]bool{}
	for _, r := range got {
		if r.verifyErr != nil {
			t.Fatalf("signature of %s: %v (%s)", r.id, r.verifyErr, r.signature)
		}
		if ids[r.id] || !strings.HasPrefix(r.id, "msg_") {
			t.Fatalf("webhook-id %q repeated or malformed", r.id)
		}
		ids[r.id] = true
		var msg struct {
			Type      string          `json:"type"`
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r.body, &msg); err != nil {
			t.Fatal(err)
		}
		var a struct {
			ID        int64  `json:"id"`
			Published string `json:"published"`
		}
		_ = json.Unmarshal(msg.Data, &a)
		if msg.Type != "document.created" || msg.Timestamp != a.Published || string(msg.Data) != asFeed[a.ID] {
			t.Fatalf("message %s: %s\nfeed: %s", r.id, r.body, asFeed[a.ID])
		}
	}
	logged := e.waitDeliveries(t, id, len(want))
	for _, d := range logged {
		if d["status"] != float64(204) || d["attempt"] != float64(1) || d["error"] != nil || d["nextAttemptAt"] != nil || d["activityId"] == nil {
			t.Fatalf("delivery %v", d)
		}
	}
	hook := e.do("GET", fmt.Sprintf("/api/v3/webhooks/%d", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if hook["lastStatus"] != float64(204) || hook["lastDeliveryAt"] == nil || hook["failingSince"] != nil {
		t.Fatalf("webhook after deliveries: %v", hook)
	}

	// Test send: delivered now, logged without an activity.
	test := e.do("POST", fmt.Sprintf("/api/v3/webhooks/%d/test", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	if test["status"] != float64(204) || test["activityId"] != nil || test["attempt"] != float64(1) {
		t.Fatalf("test send: %v", test)
	}
	last := rc.requests()[len(rc.requests())-1]
	if !bytes.Contains(last.body, []byte(`"type":"webhook.test"`)) || last.verifyErr != nil {
		t.Fatalf("test message %s: %v", last.body, last.verifyErr)
	}

	// After a rotation both secrets sign for 24 hours.
	rot := e.do("POST", fmt.Sprintf("/api/v3/webhooks/%d/rotate-secret", id), e.AdminToken, nil).expect(t, http.StatusOK).JSON(t)
	newSecret := rot["secret"].(string)
	e.post(t, "document.created")
	r := rc.waitRequests(len(want)+2, 10*time.Second)[len(want)+1]
	sigs := strings.Split(r.signature, " ")
	if len(sigs) != 2 {
		t.Fatalf("signatures after rotation: %q", r.signature)
	}
	for _, s := range []string{secret, newSecret} {
		rc.setSecrets(s)
		wh, _ := standardwebhooks.NewWebhook(s)
		h := http.Header{}
		h.Set("webhook-id", r.id)
		h.Set("webhook-timestamp", r.timestamp)
		h.Set("webhook-signature", r.signature)
		if err := wh.Verify(r.body, h); err != nil {
			t.Fatalf("after rotation, secret %s: %v", s[:10], err)
		}
	}
}
