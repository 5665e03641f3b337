-- History at scale: one index per history table, partitions kept ahead and dropped past a
-- retention, and keys a distributed PostgreSQL accepts (docs/operations.md, "History on
-- Citus or TimescaleDB").

-- One unique index per table serves both duties: it makes a re-delivered stream entry land
-- once, and it answers "this charger's history between two times" (its leading columns).
-- It starts with charger_id, which Citus requires of a unique key on a table distributed by
-- charger_id, and holds received_at, which partitioning and TimescaleDB require.
ALTER TABLE status_events DROP CONSTRAINT status_events_stream_id_received_at_key;
DROP INDEX status_events_charger;
ALTER TABLE status_events
    ADD CONSTRAINT status_events_row UNIQUE (charger_id, received_at, stream_id);

ALTER TABLE meter_values DROP CONSTRAINT meter_values_stream_id_seq_received_at_key;
DROP INDEX meter_values_charger;
ALTER TABLE meter_values
    ADD CONSTRAINT meter_values_row UNIQUE (charger_id, received_at, stream_id, seq);

-- Daily partitions (UTC days) from yesterday to `days_ahead` days ahead; a day's rows that
-- landed in the default partition move into its new partition. With `retention_days` > 0,
-- partitions of days older than that are detached and dropped, and older rows in the default
-- partition deleted. Recorders call it at start and every hour; one at a time.
CREATE FUNCTION evcs_maintain_partitions(days_ahead integer, retention_days integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    parent text;
    day date;
    today date := (now() AT TIME ZONE 'UTC')::date;
    part text;
    low timestamptz;
    high timestamptz;
    old record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('evcs_maintain_partitions'));
    FOREACH parent IN ARRAY ARRAY['status_events', 'meter_values'] LOOP
        FOR i IN -1..days_ahead LOOP
            day := today + i;
            part := format('%s_%s', parent, to_char(day, 'YYYYMMDD'));
            CONTINUE WHEN to_regclass(part) IS NOT NULL;
            CONTINUE WHEN retention_days > 0 AND day < today - retention_days;
            low := day::timestamp AT TIME ZONE 'UTC';
            high := (day + 1)::timestamp AT TIME ZONE 'UTC';
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, parent);
            EXECUTE format(
                'WITH moved AS (DELETE FROM %I WHERE received_at >= %L AND received_at < %L'
                ' RETURNING *) INSERT INTO %I SELECT * FROM moved',
                parent || '_default', low, high, part);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                parent, part, low, high);
        END LOOP;
        CONTINUE WHEN retention_days <= 0;
        FOR old IN
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = parent::regclass AND c.relname ~ ('^' || parent || '_\d{8}$')
              AND to_date(right(c.relname, 8), 'YYYYMMDD') < today - retention_days
        LOOP
            EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, old.relname);
            EXECUTE format('DROP TABLE %I', old.relname);
        END LOOP;
        EXECUTE format('DELETE FROM %I WHERE received_at < %L', parent || '_default',
            (today - retention_days)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
END $$;

DROP FUNCTION evcs_ensure_partitions(integer);
