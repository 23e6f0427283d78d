-- Webhooks and their durable delivery. webhook_dispatched (counters) is the
-- id of the last activity fanned out into webhook_jobs: the dispatcher
-- reads activities after it, inserts a job per matching webhook and moves
-- it, in one write transaction, so a committed activity always gets its
-- jobs even across a crash. A job is leased (lease_owner, lease_until)
-- while one instance attempts it, and is deleted once delivered.
CREATE TABLE webhooks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    url               TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    verbs             TEXT NOT NULL DEFAULT '[]', -- JSON array of verb filters
    workspace_id      INTEGER,                    -- no foreign key: a deleted workspace matches nothing
    enabled           INTEGER NOT NULL DEFAULT 1,
    secret            TEXT NOT NULL,
    prev_secret       TEXT NOT NULL DEFAULT '',
    prev_secret_until INTEGER,
    after_activity    INTEGER NOT NULL,           -- activities up to this id predate the webhook
    created_by        INTEGER NOT NULL,           -- the admin who made it: the actor of webhook.disabled
    created_at        INTEGER NOT NULL,
    last_delivery_at  INTEGER,
    last_status       INTEGER,
    failing_since     INTEGER,
    disabled_reason   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE webhook_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    activity_id INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until INTEGER,
    UNIQUE (webhook_id, activity_id)
);
CREATE INDEX webhook_jobs_due ON webhook_jobs(next_at, id);
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    activity_id     INTEGER,
    attempt         INTEGER NOT NULL,
    status          INTEGER,
    duration_ms     INTEGER NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    response_body   TEXT NOT NULL DEFAULT '',
    at              INTEGER NOT NULL,
    next_attempt_at INTEGER
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries(at);
INSERT OR IGNORE INTO counters(name, value) VALUES ('webhook_dispatched', (SELECT coalesce(max(id), 0) FROM activities));
