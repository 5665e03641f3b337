"""The `evcs` command: run each process, the local dev system, and admin tasks."""
