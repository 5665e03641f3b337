-- Lists kept in step with the token store. A change to a token a list carries (or should carry)
-- marks the lists of the chargers concerned stale; the gateways' sweep claims a stale list
-- (syncing, until sync_after), sends the charger a differential update, and clears the claim
-- once the charger accepts it. A change during a sync marks the list stale again, so none is
-- lost; a claim whose gateway died is taken again after sync_after.
ALTER TABLE local_lists
    ADD COLUMN stale_since timestamptz,
    ADD COLUMN syncing boolean NOT NULL DEFAULT false,
    ADD COLUMN sync_after timestamptz;

CREATE INDEX local_lists_to_sync ON local_lists (charger_id)
    WHERE stale_since IS NOT NULL OR syncing;
