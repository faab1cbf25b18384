"""The set-based statements of the write path, kept together so they read as one design.

Staging tables are temporary (per connection) and emptied at each commit.
"""

EVENT_COLUMNS = (
    "event_id, user_id, session_id, event_type, timestamp, device, country, value, data, "
    "sent_at, received_at, source_topic, source_partition, source_offset"
)
USER_COLUMNS = "user_id, first_seen, last_seen, total_events, total_purchases, total_spent, country"
FAILED_COLUMNS = (
    "event_id, error_type, error_reason, raw_data, raw_encoding, raw_truncated, source_topic, "
    "source_partition, source_offset, processor_version, timestamp"
)

CREATE_STAGING_TABLES = f"""
CREATE TEMP TABLE IF NOT EXISTS events_incoming ON COMMIT DELETE ROWS
    AS SELECT {EVENT_COLUMNS} FROM events WITH NO DATA;
CREATE TEMP TABLE IF NOT EXISTS users_incoming ON COMMIT DELETE ROWS
    AS SELECT {USER_COLUMNS} FROM users WITH NO DATA;
CREATE TEMP TABLE IF NOT EXISTS failed_incoming ON COMMIT DELETE ROWS
    AS SELECT {FAILED_COLUMNS} FROM failed_events WITH NO DATA;
"""

COPY_EVENTS = f"COPY events_incoming ({EVENT_COLUMNS}) FROM STDIN"
COPY_USERS = f"COPY users_incoming ({USER_COLUMNS}) FROM STDIN"
COPY_FAILED = f"COPY failed_incoming ({FAILED_COLUMNS}) FROM STDIN"

# The staging rows are already unique (the repository keeps each id's first occurrence).
# Two batches racing on the same new ids can deadlock; Postgres then aborts one, which
# surfaces as StorageUnavailable and is retried.
INSERT_NEW_EVENTS = f"""
INSERT INTO events ({EVENT_COLUMNS})
SELECT {EVENT_COLUMNS} FROM events_incoming
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

# Same merge rule as domain.users.merge_user. Rows are locked in user_id order.
MERGE_USERS = f"""
INSERT INTO users AS u ({USER_COLUMNS})
SELECT {USER_COLUMNS} FROM users_incoming ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE SET
    first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen),
    total_events = u.total_events + EXCLUDED.total_events,
    total_purchases = u.total_purchases + EXCLUDED.total_purchases,
    total_spent = u.total_spent + EXCLUDED.total_spent,
    country = CASE WHEN EXCLUDED.last_seen >= u.last_seen THEN EXCLUDED.country ELSE u.country END,
    updated_at = now()
"""

INSERT_NEW_FAILED = f"""
INSERT INTO failed_events ({FAILED_COLUMNS})
SELECT {FAILED_COLUMNS} FROM failed_incoming
ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING
"""

SELECT_OFFSETS = "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = %s AND topic = %s"

# Plain assignment, not GREATEST: if batches ever committed out of order, going back
# means re-reading (harmless, writes are idempotent) where going forward could skip.
UPSERT_OFFSET = """
INSERT INTO consumer_offsets (consumer, topic, partition, next_offset) VALUES (%s, %s, %s, %s)
ON CONFLICT (consumer, topic, partition) DO UPDATE
SET next_offset = EXCLUDED.next_offset, updated_at = now()
"""
