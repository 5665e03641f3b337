-- What chargers report for their operator (firmware, diagnostics and log upload progress,
-- security events, NotifyEvent, NotifyReport), as they sent it; one row per message. Rare next
-- to meter values, so one plain table; the admin API reads the latest of each kind.
CREATE TABLE charger_reports (
    stream_id   text PRIMARY KEY,           -- the stream entry: a re-delivered batch lands once
    received_at timestamptz NOT NULL,
    charger_id  text NOT NULL,
    action      text NOT NULL,
    payload     jsonb NOT NULL
);
CREATE INDEX charger_reports_latest ON charger_reports (charger_id, action, received_at DESC);
