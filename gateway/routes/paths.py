"""Base paths of the API."""

API = "/api/v1"
ADMIN = f"{API}/admin"
