-- Tokens: the RFID idTags (OCPP 1.6) and idTokens (2.0.1) that may charge, written by admins
-- and by partners for their own drivers; projected into Redis (shared/registry/tokens.py).
CREATE TABLE tokens (
    id          text PRIMARY KEY,           -- as registered; matched case-insensitively
    type        text NOT NULL DEFAULT 'ISO14443' CHECK (type IN ('Central', 'eMAID',
                    'ISO14443', 'ISO15693', 'KeyCode', 'Local', 'MacAddress', 'NoAuthorization')),
    status      text NOT NULL CHECK (status IN ('Accepted', 'Blocked', 'Expired')),
    expires_at  timestamptz,
    group_id    text,                       -- parentIdTag (1.6) / groupIdToken (2.0.1)
    partner_id  text REFERENCES partners (id),  -- NULL: the operator's own token
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- OCPP compares idTags and idTokens case-insensitively: one token per upper-cased id
CREATE UNIQUE INDEX tokens_uid ON tokens (upper(id));
CREATE INDEX tokens_partner ON tokens (partner_id, id);

-- The central system's answer to a transaction's token: Accepted, or why it was refused
-- (Blocked, Expired, Invalid, Unknown, ConcurrentTx); NULL for transactions from before.
ALTER TABLE transactions ADD COLUMN auth_status text;
-- The partner whose token started the transaction: the session is visible to that partner.
ALTER TABLE transactions ADD COLUMN token_partner_id text;
CREATE INDEX transactions_token_partner ON transactions (token_partner_id, started_at)
    WHERE token_partner_id IS NOT NULL;
