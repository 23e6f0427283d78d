-- nats_published is the id of the last activity published to NATS
-- JetStream: the export resumes after it, so a bus outage delays
-- publication and loses nothing. It starts at the newest activity.
INSERT OR IGNORE INTO counters(name, value) VALUES ('nats_published', (SELECT coalesce(max(id), 0) FROM activities));
