package roster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"time"
)

// Webhook is a destination that receives matching activities as signed
// HTTP POSTs (Standard Webhooks).
type Webhook struct {
	ID          int64
	URL         string
	Description string
	// Verbs are verb filters (exact, or a prefix ending in ".*"); empty
	// means every verb.
	Verbs       []string
	WorkspaceID *int64 // only activities in this workspace (nil: all)
	Enabled     bool
	// Secret signs every delivery; PrevSecret, until PrevSecretUntil,
	// signs beside it after a rotation.
	Secret          string
	PrevSecret      string
	PrevSecretUntil *time.Time
	CreatedAt       time.Time
	LastDeliveryAt  *time.Time
	LastStatus      *int
	FailingSince    *time.Time
	DisabledReason  string
}

// Matches reports whether the webhook wants activity a.
func (w *Webhook) Matches(a *Activity) bool {
	if w.WorkspaceID != nil && (a.WorkspaceID == nil || *a.WorkspaceID != *w.WorkspaceID) {
		return false
	}
	if len(w.Verbs) == 0 {
		return true
	}
	for _, v := range w.Verbs {
		if v == "*" || VerbMatches(v, a.Verb) {
			return true
		}
	}
	return false
}

// Secrets returns the secrets that sign a delivery at now: the current
// one first, then the previous one while its overlap lasts.
func (w *Webhook) Secrets(now time.Time) []string {
	out := []string{w.Secret}
	if w.PrevSecret != "" && w.PrevSecretUntil != nil && now.Before(*w.PrevSecretUntil) {
		out = append(out, w.PrevSecret)
	}
	return out
}

// WebhookUpdate lists the fields a PATCH changes (nil: unchanged).
type WebhookUpdate struct {
	URL         *string
	Description *string
	Verbs       *[]string
	WorkspaceID **int64
	Enabled     *bool
}

// WebhookDelivery is one attempt to deliver a message to a webhook.
type WebhookDelivery struct {
	ID            int64
	WebhookID     int64
	ActivityID    *int64 // nil for a test send
	Attempt       int
	Status        *int // the receiver's HTTP status (nil: no answer)
	DurationMs    int64
	Error         string
	ResponseBody  string
	At            time.Time
	NextAttemptAt *time.Time
}

// Webhook limits and timings from the contract.
const (
	WebhookSecretOverlap = 24 * time.Hour
	WebhookGiveUpAfter   = 72 * time.Hour
	MaxWebhookURLLen     = 2048
	MaxWebhookVerbs      = 50
)

// VerbWebhookDisabled is recorded when the server disables a webhook.
const VerbWebhookDisabled = "webhook.disabled"

// NewWebhookSecret returns a random secret in the Standard Webhooks
// format: "whsec_" and the base64 of 24 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// ValidateWebhook checks the fields of w that a client sets.
func ValidateWebhook(w *Webhook) error {
	fe := FieldErrors{}
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		fe.Add("url", "Enter an http(s) URL without credentials.")
	} else if len(w.URL) > MaxWebhookURLLen {
		fe.Add("url", "Ensure this field has no more than 2048 characters.")
	}
	if len(w.Description) > 2000 {
		fe.Add("description", "Ensure this field has no more than 2000 characters.")
	}
	if len(w.Verbs) > MaxWebhookVerbs {
		fe.Add("verbs", "At most 50 verb filters.")
	}
	for _, v := range w.Verbs {
		if v != "*" && !ValidVerbFilter(v) {
			fe.Add("verbs", "Each must be a verb, a prefix ending in \".*\", or \"*\".")
			break
		}
	}
	return fe.Err()
}

// WebhookService stores webhooks and their delivery log. Changes record
// activities by actor in the same transaction.
type WebhookService interface {
	// CreateWebhook stores w (ID, CreatedAt, Secret set by the store): it
	// receives activities committed after it.
	CreateWebhook(ctx context.Context, actor int64, w *Webhook) error
	FindWebhooks(ctx context.Context, p Page) ([]*Webhook, int, error)
	// FindWebhookByID is ENOTFOUND for an unknown id.
	FindWebhookByID(ctx context.Context, id int64) (*Webhook, error)
	// UpdateWebhook applies upd; enabling a disabled webhook clears its
	// failure state and makes its pending deliveries due at once.
	UpdateWebhook(ctx context.Context, actor, id int64, upd WebhookUpdate) (*Webhook, error)
	DeleteWebhook(ctx context.Context, actor, id int64) error
	// RotateWebhookSecret makes a new secret; the old one signs beside it
	// for WebhookSecretOverlap.
	RotateWebhookSecret(ctx context.Context, actor, id int64) (*Webhook, error)
	// FindWebhookDeliveries returns a page of attempts, newest first.
	FindWebhookDeliveries(ctx context.Context, id int64, p Page) ([]*WebhookDelivery, int, error)
}

// WebhookJob is one message leased for delivery: an activity for a
// webhook, and which attempt this is (1 for the first).
type WebhookJob struct {
	ID       int64
	Webhook  *Webhook
	Activity *Activity
	Attempt  int
}

// WebhookResult is what one attempt gave.
type WebhookResult struct {
	Status       *int // nil: no HTTP answer
	DurationMs   int64
	Error        string
	ResponseBody string // at most the first 1 KiB
	At           time.Time
	// Delivered is true for a 2xx answer.
	Delivered bool
	// NextAt is when to try again (nil: delivered, or the webhook is
	// being disabled).
	NextAt *time.Time
	// Disable, when set, disables the webhook with this reason.
	Disable string
}

// WebhookFinish is one finished attempt: the job and what it gave.
type WebhookFinish struct {
	Job    *WebhookJob
	Result *WebhookResult
}

// WebhookQueue is the durable work of delivering webhooks, shared by every
// instance on one database.
type WebhookQueue interface {
	// DispatchWebhookJobs fans up to limit newly committed activities out
	// into jobs for the enabled webhooks they match; it returns how many
	// activities it read.
	DispatchWebhookJobs(ctx context.Context, limit int) (int, error)
	// ClaimWebhookJobs leases up to limit due jobs to owner for lease, at
	// most room[id] for a webhook id listed in room and perWebhook for the
	// others. No two owners hold a lease on one job at once.
	ClaimWebhookJobs(ctx context.Context, owner string, limit, perWebhook int, room map[int64]int, lease time.Duration) ([]*WebhookJob, error)
	// FinishWebhookJobs records finished attempts in one transaction: for
	// each it logs the attempt and, if owner still holds the lease, deletes
	// the job (delivered) or schedules it at NextAt.
	FinishWebhookJobs(ctx context.Context, owner string, done []WebhookFinish) error
	// RecordWebhookTest logs a test send.
	RecordWebhookTest(ctx context.Context, webhookID int64, r *WebhookResult) (*WebhookDelivery, error)
	// PruneWebhookDeliveries forgets logged attempts older than keep.
	PruneWebhookDeliveries(ctx context.Context, keep time.Duration) error
}
