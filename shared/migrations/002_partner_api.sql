-- The complete partner and admin API: key rotation, assignment time, partner commands.

-- A rotated key names its successor; it keeps working until its (shortened) expiry.
ALTER TABLE api_keys ADD COLUMN name text;
ALTER TABLE api_keys ADD COLUMN replaced_by text REFERENCES api_keys (id);
-- "which key is this?" for a leaked key that a secret scanner found: look it up by prefix
CREATE INDEX api_keys_prefix ON api_keys (prefix text_pattern_ops);

-- History before a charger came to its partner is not that partner's to read.
ALTER TABLE chargers ADD COLUMN assigned_at timestamptz;
UPDATE chargers SET assigned_at = registered_at WHERE partner_id IS NOT NULL;

-- Every partner command as the gateway received it, and its outcome once known. The outcome
-- of a command that reached a csms node is also recorded (by the recorder) in `commands`.
CREATE TABLE partner_commands (
    id              text PRIMARY KEY,
    partner_id      text NOT NULL,
    charger_id      text NOT NULL,
    action          text NOT NULL,          -- as the partner said it: on, off, availability
    request         jsonb NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('sync', 'async')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    deadline        timestamptz NOT NULL,   -- no outcome by then: it timed out
    outcome         text,                   -- NULL while pending
    ocpp_action     text,
    response        jsonb,
    message         text,
    completed_at    timestamptz
);
CREATE INDEX partner_commands_partner ON partner_commands (partner_id, created_at);
CREATE INDEX partner_commands_created ON partner_commands (created_at, id);

CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_target ON audit_log (target, at);
