-- Operators' commands (POST /admin/chargers/{id}/commands) are kept with the partners' ones,
-- so both have one record, one PENDING -> outcome lifecycle, one lookup and one place in the
-- audit log: partner_id is NULL and actor names the admin for an operator's command. A
-- partner's lookup matches its own id, never NULL.
ALTER TABLE partner_commands ALTER COLUMN partner_id DROP NOT NULL;
ALTER TABLE partner_commands ADD COLUMN actor text;
