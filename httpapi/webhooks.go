package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// WebhookTester sends a test event to a webhook now (webhook.Deliverer).
type WebhookTester interface {
	Test(ctx context.Context, id int64) (*roster.WebhookDelivery, error)
}

type webhookJSON struct {
	ID             int64    `json:"id"`
	URL            string   `json:"url"`
	Description    string   `json:"description"`
	Verbs          []string `json:"verbs"`
	Workspace      *int64   `json:"workspace"`
	Enabled        bool     `json:"enabled"`
	CreatedAt      apiTime  `json:"createdAt"`
	LastDeliveryAt *apiTime `json:"lastDeliveryAt"`
	LastStatus     *int     `json:"lastStatus"`
	FailingSince   *apiTime `json:"failingSince"`
	DisabledReason *string  `json:"disabledReason"`
	// Secret appears only in the answers to create and rotate-secret.
	Secret string `json:"secret,omitempty"`
}

func webhookOut(w *roster.Webhook) webhookJSON {
	out := webhookJSON{ID: w.ID, URL: w.URL, Description: w.Description, Verbs: w.Verbs, Workspace: w.WorkspaceID,
		Enabled: w.Enabled, CreatedAt: apiTime(w.CreatedAt), LastDeliveryAt: optTime(w.LastDeliveryAt), LastStatus: w.LastStatus,
		FailingSince: optTime(w.FailingSince)}
	if out.Verbs == nil {
		out.Verbs = []string{}
	}
	if w.DisabledReason != "" {
		out.DisabledReason = &w.DisabledReason
	}
	return out
}

type deliveryJSON struct {
	ID            int64    `json:"id"`
	ActivityID    *int64   `json:"activityId"`
	Attempt       int      `json:"attempt"`
	Status        *int     `json:"status"`
	DurationMs    int64    `json:"durationMs"`
	Error         *string  `json:"error"`
	ResponseBody  string   `json:"responseBody"`
	At            apiTime  `json:"at"`
	NextAttemptAt *apiTime `json:"nextAttemptAt"`
}

func deliveryOut(d *roster.WebhookDelivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, ActivityID: d.ActivityID, Attempt: d.Attempt, Status: d.Status, DurationMs: d.DurationMs,
		ResponseBody: d.ResponseBody, At: apiTime(d.At), NextAttemptAt: optTime(d.NextAttemptAt)}
	if d.Error != "" {
		out.Error = &d.Error
	}
	return out
}

var webhookFields = []string{"url", "description", "verbs", "workspace", "enabled"}

var webhookReadOnly = []string{"id", "createdAt", "lastDeliveryAt", "lastStatus", "failingSince", "disabledReason", "secret"}

// readWebhookFields reads the writable fields present in b.
func readWebhookFields(b *body) roster.WebhookUpdate {
	var upd roster.WebhookUpdate
	upd.URL = b.str("url")
	if upd.URL != nil {
		*upd.URL = strings.TrimSpace(*upd.URL)
	}
	upd.Description = b.str("description")
	if raw, ok := b.raw["verbs"]; ok {
		var v []string
		if err := json.Unmarshal(raw, &v); err != nil || v == nil {
			b.errors.Add("verbs", "Expected a list of verb filters.")
		} else {
			upd.Verbs = &v
		}
	}
	if raw, ok := b.raw["workspace"]; ok {
		var ws *int64
		if string(raw) != "null" {
			var id int64
			if err := json.Unmarshal(raw, &id); err != nil || id < 1 {
				b.errors.Add("workspace", "A workspace id or null is required.")
			}
			ws = &id
		}
		upd.WorkspaceID = &ws
	}
	upd.Enabled = b.boolean("enabled")
	return upd
}

// checkWebhook validates a webhook as it would be stored.
func (s *Server) checkWebhook(ctx context.Context, w *roster.Webhook) error {
	if err := roster.ValidateWebhook(w); err != nil {
		return err
	}
	if w.WorkspaceID != nil {
		if _, err := s.store.FindWorkspaceByID(ctx, *w.WorkspaceID); roster.ErrorCode(err) == roster.ENOTFOUND {
			return roster.FieldError(roster.EINVALID, "workspace", "No such workspace.")
		} else if err != nil {
			return err
		}
	}
	return nil
}

func applyWebhook(w *roster.Webhook, upd roster.WebhookUpdate) {
	if upd.URL != nil {
		w.URL = *upd.URL
	}
	if upd.Description != nil {
		w.Description = *upd.Description
	}
	if upd.Verbs != nil {
		w.Verbs = *upd.Verbs
	}
	if upd.WorkspaceID != nil {
		w.WorkspaceID = *upd.WorkspaceID
	}
	if upd.Enabled != nil {
		w.Enabled = *upd.Enabled
	}
}

func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request) error {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	b, err := decodeBody(w, r, webhookFields, webhookReadOnly)
	if err != nil {
		return err
	}
	b.require("url")
	upd := readWebhookFields(b)
	if err := b.err(); err != nil {
		return err
	}
	hook := &roster.Webhook{Enabled: true, Verbs: []string{}}
	applyWebhook(hook, upd)
	if err := s.checkWebhook(r.Context(), hook); err != nil {
		return err
	}
	if err := s.store.CreateWebhook(r.Context(), viewer(r).ID, hook); err != nil {
		return err
	}
	out := webhookOut(hook)
	out.Secret = hook.Secret
	w.Header().Set("Location", "/api/v3/webhooks/"+strconv.FormatInt(hook.ID, 10))
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusCreated, out)
}

func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request) error {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	hooks, total, err := s.store.FindWebhooks(r.Context(), p.page())
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		out[i] = webhookOut(h)
	}
	body, err := paginate(r, p, total, out)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, body)
}

// adminWebhook checks the caller is an admin and reads the path's webhook.
func (s *Server) adminWebhook(r *http.Request) (*roster.Webhook, error) {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return nil, err
	}
	id, err := parseID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.store.FindWebhookByID(r.Context(), id)
}

func (s *Server) handleWebhookGet(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.adminWebhook(r)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, webhookOut(hook))
}

func (s *Server) handleWebhookPatch(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.adminWebhook(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(w, r, webhookFields, webhookReadOnly)
	if err != nil {
		return err
	}
	upd := readWebhookFields(b)
	if err := b.err(); err != nil {
		return err
	}
	applyWebhook(hook, upd)
	if err := s.checkWebhook(r.Context(), hook); err != nil {
		return err
	}
	updated, err := s.store.UpdateWebhook(r.Context(), viewer(r).ID, hook.ID, upd)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, webhookOut(updated))
}

func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.adminWebhook(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(r.Context(), viewer(r).ID, hook.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleWebhookRotate(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.adminWebhook(r)
	if err != nil {
		return err
	}
	rotated, err := s.store.RotateWebhookSecret(r.Context(), viewer(r).ID, hook.ID)
	if err != nil {
		return err
	}
	out := webhookOut(rotated)
	out.Secret = rotated.Secret
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusOK, out)
}

func (s *Server) handleWebhookTest(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.adminWebhook(r)
	if err != nil {
		return err
	}
	if s.webhooks == nil {
		return roster.Errorf(roster.EUNAVAILABLE, "Webhook delivery is not running on this server.")
	}
	d, err := s.webhooks.Test(r.Context(), hook.ID)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, deliveryOut(d))
}

func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.adminWebhook(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, total, err := s.store.FindWebhookDeliveries(r.Context(), hook.ID, p.page())
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(list))
	for i, d := range list {
		out[i] = deliveryOut(d)
	}
	body, err := paginate(r, p, total, out)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, body)
}
