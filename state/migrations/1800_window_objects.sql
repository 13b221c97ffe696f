-- Remote log objects (S3) a detection's windows have read. A window stages
-- the objects it reads (committed = 0); the row is committed with the
-- window's checkpoint, in the same transaction, so a crash between reading
-- and completing a window leaves nothing marked read and the retried window
-- reads the objects again. A later window whose listing reaches back over
-- an object (arrivals that became visible late) skips it while the row is
-- kept; rows are pruned once keep_until is before the checkpoint.
CREATE TABLE window_objects (
  detection  TEXT NOT NULL,
  object     TEXT NOT NULL,              -- s3://bucket/key
  version    TEXT NOT NULL,              -- ETag: a rewritten object is read again
  arrived    TEXT NOT NULL,              -- LastModified
  keep_until TEXT NOT NULL,
  committed  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (detection, object, version)
);
