"""The admin API: partners, their API keys, chargers and the audit log. Every change is
audited with the acting admin; registry errors become 400/404/409 (see gateway.errors)."""
