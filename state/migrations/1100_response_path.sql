-- The response path under faults (issue 11).

-- When an alert's ticket create stopped being knowable: the end of a
-- request that timed out or failed with a 5xx, or, written before the
-- request is sent, its deadline (a crash while it ran). NULL: no create
-- with an unknown outcome, so a new one may be sent without a lookup.
ALTER TABLE alerts ADD COLUMN create_unknown_at TEXT;
UPDATE alerts SET create_unknown_at = created_at WHERE state = 'pending';
CREATE INDEX alerts_fingerprint ON alerts(fingerprint, generation);

-- The event fields of a ticket patrol did not make, as first read; later
-- edits are reported (fields_reported holds the last version reported),
-- never followed.
ALTER TABLE tickets ADD COLUMN fields TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN fields_reported TEXT NOT NULL DEFAULT '';

-- Every plan shown on a ticket for approval, with its digest. posted_at is
-- the tracker's own time of the plan comment: approvals count only when
-- given after it, for the digest it shows.
CREATE TABLE plans (
  id          INTEGER PRIMARY KEY,
  ticket_key  TEXT NOT NULL,
  digest      TEXT NOT NULL,
  plan        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  posted_at   TEXT,
  void_at     TEXT,
  void_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX plans_ticket ON plans(ticket_key, id);

-- Approvals that counted: who approved which plan (digest), when, and how.
CREATE TABLE approvals (
  id          INTEGER PRIMARY KEY,
  ticket_key  TEXT NOT NULL,
  digest      TEXT NOT NULL,
  by_user     TEXT NOT NULL,
  at          TEXT NOT NULL,
  via         TEXT NOT NULL,
  recorded_at TEXT NOT NULL
);
CREATE INDEX approvals_ticket ON approvals(ticket_key, id);

-- The outbox carries every write that must follow a recorded change:
-- comments, chat messages, transitions, labels, routes. A delivery that
-- fails for good is set aside (dead_at) instead of blocking the others.
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'notify';
ALTER TABLE outbox ADD COLUMN dead_at TEXT;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox(sent_at, dead_at, id);

-- Undos asked for while another patrol process held the state.
CREATE TABLE undo_requests (
  id           INTEGER PRIMARY KEY,
  action_id    INTEGER NOT NULL,
  by_user      TEXT NOT NULL,
  requested_at TEXT NOT NULL,
  done_at      TEXT,
  result       TEXT NOT NULL DEFAULT '',
  detail       TEXT NOT NULL DEFAULT ''
);

-- Window staging per fingerprint and second, so that suppression can be
-- decided per result time within one (catch-up) window. Staging is
-- transient: a window starts by clearing it.
DROP TABLE window_hits;
CREATE TABLE window_hits (
  detection   TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  at          TEXT NOT NULL,
  count       INTEGER NOT NULL,
  first_seen  TEXT NOT NULL,
  last_seen   TEXT NOT NULL,
  result      TEXT NOT NULL,
  PRIMARY KEY (detection, fingerprint, at)
);
CREATE INDEX window_hits_order ON window_hits(detection, first_seen, fingerprint);
