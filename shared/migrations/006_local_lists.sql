-- The local authorization list each charger holds, as the central system last sent it and the
-- charger accepted it: its version and entries (token uid -> [id, status, expiry, group,
-- type]), so that the next update can be a differential one.
CREATE TABLE local_lists (
    charger_id  text PRIMARY KEY,
    version     integer NOT NULL CHECK (version > 0),
    entries     jsonb NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now()
);
