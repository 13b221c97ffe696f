-- Per-detection checkpoint: the end of the last window fully handled.
CREATE TABLE checkpoints (
  detection  TEXT PRIMARY KEY,
  window_end TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- The window being handled, aggregated per fingerprint. Cleared when a window
-- starts and when its checkpoint is written: a failed window leaves nothing
-- behind that a retry would count twice.
CREATE TABLE window_hits (
  detection   TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  count       INTEGER NOT NULL,
  first_seen  TEXT NOT NULL,
  last_seen   TEXT NOT NULL,
  result      TEXT NOT NULL,
  PRIMARY KEY (detection, fingerprint)
);
CREATE INDEX window_hits_order ON window_hits(detection, first_seen, fingerprint);

-- The alert ledger. A fingerprint gets a new generation (and a new ticket)
-- when a repeat falls outside the detection's suppress window. An alert is
-- 'pending' from just before its ticket is created until the key is stored.
CREATE TABLE alerts (
  id           INTEGER PRIMARY KEY,
  detection    TEXT NOT NULL,
  fingerprint  TEXT NOT NULL,
  generation   INTEGER NOT NULL,
  state        TEXT NOT NULL,
  first_seen   TEXT NOT NULL,
  last_seen    TEXT NOT NULL,
  count        INTEGER NOT NULL,
  window_start TEXT NOT NULL,
  window_count INTEGER NOT NULL,
  ticket_key   TEXT,
  result       TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  commented_at TEXT,
  UNIQUE (fingerprint, generation)
);
CREATE INDEX alerts_detection ON alerts(detection, state);

-- The ticket ledger: every ticket patrol made or handled.
CREATE TABLE tickets (
  key          TEXT PRIMARY KEY,
  id           TEXT NOT NULL,
  detection    TEXT NOT NULL DEFAULT '',
  fingerprint  TEXT NOT NULL DEFAULT '',
  summary      TEXT NOT NULL DEFAULT '',
  status       TEXT NOT NULL DEFAULT '',
  labels       TEXT NOT NULL DEFAULT '[]',
  url          TEXT NOT NULL DEFAULT '',
  stage        TEXT NOT NULL,
  updated_seen TEXT NOT NULL DEFAULT '',
  enriched_at  TEXT,
  planned_at   TEXT,
  thread       TEXT NOT NULL DEFAULT '',
  channel      TEXT NOT NULL DEFAULT '',
  note         TEXT NOT NULL DEFAULT '',
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);
CREATE INDEX tickets_stage ON tickets(stage);

-- The action ledger, append-only: one row per phase of an attempt.
CREATE TABLE actions (
  id         INTEGER PRIMARY KEY,
  attempt    TEXT NOT NULL,
  ticket_key TEXT NOT NULL,
  action     TEXT NOT NULL,
  target     TEXT NOT NULL,
  principal  TEXT NOT NULL DEFAULT '',
  plan       TEXT NOT NULL DEFAULT '',
  dry_run    INTEGER NOT NULL,
  phase      TEXT NOT NULL,
  detail     TEXT NOT NULL DEFAULT '',
  snapshot   TEXT NOT NULL DEFAULT '',
  at         TEXT NOT NULL
);
CREATE INDEX actions_attempt ON actions(attempt);
CREATE INDEX actions_phase_at ON actions(phase, at);
CREATE INDEX actions_ticket ON actions(ticket_key);

-- Run history.
CREATE TABLE runs (
  id           INTEGER PRIMARY KEY,
  job          TEXT NOT NULL,
  detection    TEXT NOT NULL DEFAULT '',
  window_start TEXT NOT NULL DEFAULT '',
  window_end   TEXT NOT NULL DEFAULT '',
  started_at   TEXT NOT NULL,
  finished_at  TEXT,
  results      INTEGER NOT NULL DEFAULT 0,
  alerts       INTEGER NOT NULL DEFAULT 0,
  tickets      INTEGER NOT NULL DEFAULT 0,
  actions      INTEGER NOT NULL DEFAULT 0,
  error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_detection ON runs(detection, id);

-- Notifications not yet sent (written with the change they announce).
CREATE TABLE outbox (
  id         INTEGER PRIMARY KEY,
  ticket_key TEXT NOT NULL,
  payload    TEXT NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  sent_at    TEXT
);
CREATE INDEX outbox_pending ON outbox(sent_at, id);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- The local ticket store (tickets.backend = "local").
CREATE TABLE local_tickets (
  num         INTEGER PRIMARY KEY AUTOINCREMENT,
  key         TEXT NOT NULL UNIQUE,
  summary     TEXT NOT NULL,
  description TEXT NOT NULL,
  severity    TEXT NOT NULL DEFAULT '',
  priority    TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL,
  labels      TEXT NOT NULL,
  assignee    TEXT NOT NULL DEFAULT '',
  component   TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE TABLE local_comments (
  id         INTEGER PRIMARY KEY,
  ticket_key TEXT NOT NULL,
  author     TEXT NOT NULL,
  body       TEXT NOT NULL,
  at         TEXT NOT NULL
);
CREATE INDEX local_comments_ticket ON local_comments(ticket_key, id);
CREATE TABLE local_events (
  id         INTEGER PRIMARY KEY,
  ticket_key TEXT NOT NULL,
  kind       TEXT NOT NULL,
  value      TEXT NOT NULL,
  by_user    TEXT NOT NULL,
  at         TEXT NOT NULL
);
CREATE INDEX local_events_ticket ON local_events(ticket_key, id);
