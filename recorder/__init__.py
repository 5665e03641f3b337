"""The recorder: event stream -> PostgreSQL in COPY batches, acknowledged after commit."""
