"""The partner REST API gateway: API keys, rate limits, status reads and commands over Redis."""
