-- Tuning and going live safely (issue 13).

-- Alerts that are recorded without a ticket: state 'shadow' (a shadow
-- detection's; would holds what it would have done, as JSON) or
-- 'silenced' (silence_id names the silence). recurrence_of is the closed
-- ticket an alert recurred on, when its own ticket is new
-- (tickets.on_recurrence = "new").
ALTER TABLE alerts ADD COLUMN silence_id TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN would TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN recurrence_of TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_silence ON alerts(silence_id) WHERE silence_id != '';

-- Window staging is kept apart per class: live, shadow, or muted by one
-- silence. Staging is transient: a window starts by clearing it.
DROP TABLE window_hits;
CREATE TABLE window_hits (
  detection   TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  class       TEXT NOT NULL DEFAULT '',
  at          TEXT NOT NULL,
  count       INTEGER NOT NULL,
  first_seen  TEXT NOT NULL,
  last_seen   TEXT NOT NULL,
  result      TEXT NOT NULL,
  PRIMARY KEY (detection, fingerprint, class, at)
);
CREATE INDEX window_hits_order ON window_hits(detection, first_seen, fingerprint, class);

-- Results an exception dropped, per detection, exception and window (a
-- window searched again replaces its own row).
CREATE TABLE exception_counts (
  detection    TEXT NOT NULL,
  exception    TEXT NOT NULL,
  window_start TEXT NOT NULL,
  count        INTEGER NOT NULL,
  first_seen   TEXT NOT NULL,
  last_seen    TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  PRIMARY KEY (detection, exception, window_start)
);

-- What the tracker says of a ticket besides its status: whether the
-- status is a done one, and its resolution. reopened_at is when patrol
-- queued a reopen for a recurrence (a done status the tracker reported
-- before then is stale). grace_until is when an
-- automatic remediation in its grace period runs; held_by and held_at say
-- who held it (the hold label): it then needs an approval.
ALTER TABLE tickets ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN reopened_at TEXT;
ALTER TABLE tickets ADD COLUMN grace_until TEXT;
ALTER TABLE tickets ADD COLUMN held_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN held_at TEXT;

-- How people resolved patrol's tickets: a false positive or not, by whom.
-- One row per ticket (its latest resolution).
CREATE TABLE verdicts (
  ticket_key     TEXT PRIMARY KEY,
  detection      TEXT NOT NULL,
  resolution     TEXT NOT NULL,
  false_positive INTEGER NOT NULL,
  by_user        TEXT NOT NULL DEFAULT '',
  at             TEXT NOT NULL,
  recorded_at    TEXT NOT NULL
);
CREATE INDEX verdicts_detection ON verdicts(detection, at);

-- The local ticket store keeps a resolution too.
ALTER TABLE local_tickets ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
