-- Delivering comments at most once across kills (issue 21).

-- When the latest attempt of a delivery was started. A comment whose
-- attempt started and was never recorded as sent (patrol stopped while it
-- was sent, or its answer was lost) may be on the ticket already: it is
-- looked for by the reference it carries before it is sent again.
ALTER TABLE outbox ADD COLUMN sending_at TEXT;
