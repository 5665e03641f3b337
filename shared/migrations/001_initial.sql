-- Partners, keys and chargers: the registry, written by admins.
CREATE TABLE partners (
    id                text PRIMARY KEY,
    name              text NOT NULL,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    charger_quota     integer CHECK (charger_quota >= 0),
    rate_limit_minute integer CHECK (rate_limit_minute > 0),
    rate_limit_hour   integer CHECK (rate_limit_hour > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    partner_id   text NOT NULL REFERENCES partners (id),
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,   -- SHA-256 of the key; the key itself is never stored
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_partner ON api_keys (partner_id);

CREATE TABLE chargers (
    id            text PRIMARY KEY,
    partner_id    text REFERENCES partners (id),
    password_hash text,
    protocol      text CHECK (protocol IN ('ocpp1.6', 'ocpp2.0.1')),
    vendor        text,
    model         text,
    registered_at timestamptz NOT NULL DEFAULT now(),
    removed_at    timestamptz
);
CREATE INDEX chargers_partner ON chargers (partner_id, id);

-- History, written by recorders from the event stream. Each row keeps its stream entry id
-- under a unique constraint so a re-claimed batch lands once. Partitioned by the time the
-- csms received the event (taken from the stream id, so a re-delivery maps to the same row).
CREATE TABLE status_events (
    stream_id    text NOT NULL,
    received_at  timestamptz NOT NULL,
    charger_id   text NOT NULL,
    connector_id integer NOT NULL,
    ocpp_status  text NOT NULL,
    status       text NOT NULL,
    error_code   text,
    ts           timestamptz,
    UNIQUE (stream_id, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE status_events_default PARTITION OF status_events DEFAULT;
CREATE INDEX status_events_charger ON status_events (charger_id, received_at);

CREATE TABLE meter_values (
    stream_id      text NOT NULL,
    seq            smallint NOT NULL,
    received_at    timestamptz NOT NULL,
    charger_id     text NOT NULL,
    connector_id   integer NOT NULL,
    transaction_id text,
    ts             timestamptz,
    measurand      text NOT NULL,
    phase          text,
    value          double precision NOT NULL,
    unit           text,
    UNIQUE (stream_id, seq, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE meter_values_default PARTITION OF meter_values DEFAULT;
CREATE INDEX meter_values_charger ON meter_values (charger_id, received_at);

CREATE TABLE transactions (
    charger_id     text NOT NULL,
    transaction_id text NOT NULL,
    connector_id   integer,
    id_tag         text,
    started_at     timestamptz,
    stopped_at     timestamptz,
    meter_start_wh double precision,
    meter_stop_wh  double precision,
    energy_wh      double precision GENERATED ALWAYS AS (meter_stop_wh - meter_start_wh) STORED,
    stop_reason    text,
    PRIMARY KEY (charger_id, transaction_id)
);
CREATE INDEX transactions_started ON transactions (charger_id, started_at);

CREATE TABLE commands (
    id           text PRIMARY KEY,
    partner_id   text,
    charger_id   text NOT NULL,
    action       text NOT NULL,
    ocpp_action  text,
    request      jsonb,
    outcome      text NOT NULL,
    response     jsonb,
    completed_at timestamptz NOT NULL
);
CREATE INDEX commands_charger ON commands (charger_id, completed_at);

CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    target  text,
    details jsonb
);

-- Daily partitions a few days ahead; recorders call this at start and every hour.
CREATE FUNCTION evcs_ensure_partitions(days_ahead integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    parent text;
    day date;
    part text;
BEGIN
    FOREACH parent IN ARRAY ARRAY['status_events', 'meter_values'] LOOP
        FOR i IN 0..days_ahead LOOP
            day := current_date + i;
            part := format('%s_%s', parent, to_char(day, 'YYYYMMDD'));
            IF to_regclass(part) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    part, parent, day::timestamptz, (day + 1)::timestamptz);
            END IF;
        END LOOP;
    END LOOP;
END $$;
