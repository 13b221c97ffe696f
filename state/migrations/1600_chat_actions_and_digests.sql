-- Approvals and holds from chat, and scheduled digests (issue 16).

-- Clicks on a ticket's Approve or Hold button in the chat that counted:
-- who (the chat's user id, and the approver identity it maps to), on which
-- plan (digest), when, and the message clicked (updated with the result).
-- Clicks that did not count change nothing and are not recorded here.
CREATE TABLE chat_actions (
  id          INTEGER PRIMARY KEY,
  ticket_key  TEXT NOT NULL,
  digest      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  via         TEXT NOT NULL,
  chat_user   TEXT NOT NULL,
  chat_name   TEXT NOT NULL DEFAULT '',
  by_user     TEXT NOT NULL,
  message     TEXT NOT NULL DEFAULT '',
  at          TEXT NOT NULL,
  recorded_at TEXT NOT NULL
);
CREATE INDEX chat_actions_ticket ON chat_actions(ticket_key, id);

-- One row per [[digest]] entry and schedule tick, written in the same
-- transaction as the digest's delivery: a tick is queued once, and the
-- outbox sends it until it arrives.
CREATE TABLE digests (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL,
  tick      TEXT NOT NULL,
  since     TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  UNIQUE (name, tick)
);
