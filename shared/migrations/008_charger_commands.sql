-- A charger's recent commands (the operator console's charger page): partners' and operators'
-- alike, newest first, without reading every command of the fleet.
CREATE INDEX partner_commands_charger ON partner_commands (charger_id, created_at);
