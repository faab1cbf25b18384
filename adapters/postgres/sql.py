"""The set-based statements of the write path, kept together so they read as one design.

Events and dead letters, a row each, go in by binary COPY (a quarter of the client CPU of
text COPY: no timestamps, UUIDs or numbers formatted as text), into `events` directly or into
a temporary staging table (per connection, emptied at each commit); the events' JSON `data` is
staged as text and cast on insert. The projections' deltas, already folded per key, go as
arrays through `unnest` (`staging.array_params`: text and numbers as array literals, `%s`, the
rest binary, `%b`): each merge is one statement, so one round trip where a COPY into a staging
table and the merge after it took three to five.
"""

EVENT_COLUMNS = (
    "event_id, user_id, session_id, event_type, timestamp, device, country, value, data, "
    "sent_at, received_at, source_topic, source_partition, source_offset, event_time, late, future_clamped, "
    "anomaly_score"
)
# Events' JSON `data` is staged as text (binary COPY of jsonb has a wire format of its own).
STAGED_EVENT_COLUMNS = EVENT_COLUMNS.replace("data,", "data::text AS data,")
STAGED_EVENT_VALUES = EVENT_COLUMNS.replace("data,", "data::jsonb,")
USER_COLUMNS = "user_id, first_seen, last_seen, total_events, total_purchases, total_spent, country"
FAILED_COLUMNS = (
    "event_id, error_type, error_reason, raw_data, raw_encoding, raw_truncated, source_topic, "
    "source_partition, source_offset, processor_version, timestamp, request_key, request_index"
)

CREATE_STAGING_TABLES = f"""
CREATE TEMP TABLE IF NOT EXISTS events_incoming ON COMMIT DELETE ROWS
    AS SELECT {STAGED_EVENT_COLUMNS} FROM events WITH NO DATA;
CREATE TEMP TABLE IF NOT EXISTS failed_incoming ON COMMIT DELETE ROWS
    AS SELECT {FAILED_COLUMNS} FROM failed_events WITH NO DATA;
"""

COPY_EVENTS = f"COPY events_incoming ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)"
# Straight into `events` when the batch is believed all new (`add_all_new`); `data` as jsonb.
COPY_EVENTS_DIRECT = f"COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)"
COPY_FAILED = f"COPY failed_incoming ({FAILED_COLUMNS}) FROM STDIN (FORMAT BINARY)"

# The staging rows are already unique (the repository keeps each id's first occurrence).
# Two batches racing on the same new ids can deadlock; Postgres then aborts one, which
# surfaces as StorageUnavailable and is retried.
INSERT_NEW_EVENTS = f"""
INSERT INTO events ({EVENT_COLUMNS})
SELECT {STAGED_EVENT_VALUES} FROM events_incoming
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

# Same merge rule as domain.users.merge_user. Rows are locked in user_id order.
MERGE_USERS = f"""
INSERT INTO users AS u ({USER_COLUMNS})
SELECT * FROM unnest(%s::text[], %b::timestamptz[], %b::timestamptz[], %s::bigint[], %s::bigint[],
                     %s::numeric[], %s::text[]) AS i({USER_COLUMNS})
ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE SET
    first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen),
    total_events = u.total_events + EXCLUDED.total_events,
    total_purchases = u.total_purchases + EXCLUDED.total_purchases,
    total_spent = u.total_spent + EXCLUDED.total_spent,
    country = CASE WHEN EXCLUDED.last_seen >= u.last_seen THEN EXCLUDED.country ELSE u.country END,
    updated_at = now()
RETURNING user_id, total_events, total_purchases
"""

INSERT_NEW_FAILED = f"""
INSERT INTO failed_events ({FAILED_COLUMNS})
SELECT {FAILED_COLUMNS} FROM failed_incoming
ON CONFLICT DO NOTHING -- the same log position, or the same item of a request retried with its key
"""

SELECT_OFFSETS = "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = %s AND topic = %s"

# Plain assignment, not GREATEST: if batches ever committed out of order, going back
# means re-reading (harmless, writes are idempotent) where going forward could skip.
UPSERT_OFFSET = """
INSERT INTO consumer_offsets (consumer, topic, partition, next_offset, received_until) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (consumer, topic, partition) DO UPDATE
SET next_offset = EXCLUDED.next_offset,
    received_until = GREATEST(consumer_offsets.received_until, EXCLUDED.received_until),
    updated_at = now()
"""

# Totals add up; unique users rise by the (day, type, country, user) members new to the table.
MERGE_DAILY = """
WITH new_members AS (
    INSERT INTO daily_stats_users (day, event_type, country, user_id)
    SELECT * FROM unnest(%b::date[], %s::text[], %s::text[], %s::text[])
    ON CONFLICT DO NOTHING
    RETURNING day, event_type, country
), new_users AS (
    SELECT day, event_type, country, count(*) AS users FROM new_members GROUP BY 1, 2, 3
)
INSERT INTO daily_stats AS d (day, event_type, country, events, unique_users, purchases, revenue)
SELECT i.day, i.event_type, i.country, i.events, coalesce(n.users, 0), i.purchases, i.revenue
FROM unnest(%b::date[], %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::numeric[])
    AS i(day, event_type, country, events, purchases, revenue)
LEFT JOIN new_users n USING (day, event_type, country)
ORDER BY 1, 2, 3
ON CONFLICT (day, event_type, country) DO UPDATE SET
    events = d.events + EXCLUDED.events,
    unique_users = d.unique_users + EXCLUDED.unique_users,
    purchases = d.purchases + EXCLUDED.purchases,
    revenue = d.revenue + EXCLUDED.revenue
"""

# Same shape as MERGE_DAILY; active users live on each minute's 'all' row. The 10-second rate
# buckets ride along (a data-modifying WITH runs whether or not the rest reads it).
MERGE_WINDOWS = """
WITH rates AS (
    INSERT INTO event_rate_buckets AS b (bucket_start, events)
    SELECT * FROM unnest(%b::timestamptz[], %s::bigint[]) ORDER BY 1
    ON CONFLICT (bucket_start) DO UPDATE SET events = b.events + EXCLUDED.events
), new_members AS (
    INSERT INTO realtime_window_users (window_start, user_id)
    SELECT * FROM unnest(%b::timestamptz[], %s::text[])
    ON CONFLICT DO NOTHING
    RETURNING window_start
), new_users AS (
    SELECT window_start, count(*) AS users FROM new_members GROUP BY 1
)
INSERT INTO realtime_windows AS w (window_start, dimension, key, events, purchases, revenue, active_users)
SELECT i.window_start, i.dimension, i.key, i.events, i.purchases, i.revenue,
       CASE WHEN i.dimension = 'all' THEN coalesce(n.users, 0) ELSE 0 END
FROM unnest(%b::timestamptz[], %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::numeric[])
    AS i(window_start, dimension, key, events, purchases, revenue)
LEFT JOIN new_users n USING (window_start)
ORDER BY 1, 2, 3
ON CONFLICT (window_start, dimension, key) DO UPDATE SET
    events = w.events + EXCLUDED.events,
    purchases = w.purchases + EXCLUDED.purchases,
    revenue = w.revenue + EXCLUDED.revenue,
    active_users = w.active_users + EXCLUDED.active_users
"""

SELECT_NEAR_SESSIONS = """
SELECT s.user_id, s.session_start, s.session_end, s.events
FROM sessions s
JOIN unnest(%s::varchar[], %b::timestamptz[], %b::timestamptz[]) AS span(user_id, low, high)
  ON s.user_id = span.user_id AND s.session_start <= span.high AND s.session_end >= span.low
"""

DELETE_SESSIONS = """
DELETE FROM sessions s USING unnest(%s::varchar[], %b::timestamptz[]) AS gone(user_id, session_start)
WHERE s.user_id = gone.user_id AND s.session_start = gone.session_start
"""

UPSERT_SESSIONS = """
INSERT INTO sessions AS s (user_id, session_start, session_end, events)
SELECT * FROM unnest(%s::text[], %b::timestamptz[], %b::timestamptz[], %s::int[]) ORDER BY 1, 2
ON CONFLICT (user_id, session_start) DO UPDATE SET session_end = EXCLUDED.session_end, events = EXCLUDED.events
"""

# Which of a batch's ids are stored already (one index probe each), before scoring the rest.
STORED_EVENT_IDS = "SELECT event_id FROM events WHERE event_id = ANY(%s::uuid[])"

# Each user's latest events by event time (the index on (user_id, event_time DESC) serves it),
# as `PastEvent`s: the columns a user's feature state is rebuilt from, not the payload. They come
# in the order they were stored (the order a live scorer saw them): by transaction, then log
# offset (one partition's writer stores a user's events).
RECENT_BY_USER = """
SELECT e.event_id, e.user_id, e.session_id, e.event_type, e.device, e.country, e.value, e.event_time
FROM unnest(%s::text[]) AS u(user_id)
CROSS JOIN LATERAL (
    SELECT event_id, user_id, session_id, event_type, device, country, value, event_time, created_at, source_offset
    FROM events WHERE events.user_id = u.user_id ORDER BY event_time DESC, event_id DESC LIMIT %s
) AS e
ORDER BY e.created_at, e.source_offset, e.event_id
"""

INSERT_NEW_ANOMALIES = """
INSERT INTO anomalies (event_id, user_id, score, reasons, detected_at, model_version)
SELECT event_id, user_id, score, reasons::text[], detected_at, model_version
FROM unnest(%b::uuid[], %b::text[], %b::float8[], %b::text[], %b::timestamptz[], %b::text[])
    AS a(event_id, user_id, score, reasons, detected_at, model_version)
ON CONFLICT (event_id) DO NOTHING
"""

LOAD_DETECTOR_STATE = "SELECT state FROM detector_states WHERE name = %s AND partition = %s"
SAVE_DETECTOR_STATE = """
INSERT INTO detector_states (name, partition, state, events_learned, saved_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (name, partition) DO UPDATE SET
    state = EXCLUDED.state, events_learned = EXCLUDED.events_learned, saved_at = EXCLUDED.saved_at
"""

# Each known user's stored-event count and saved feature state, if any. The state comes only when
# it can be used: whole (its count is the user's), or lacking at most %s events. It was saved in a
# batch's transaction, so the events it lacks are those later transactions stored, each with its
# own start as `created_at`, after its `saved_at` (both `now()`, the transaction's start).
READ_FEATURE_STATES = """
SELECT u.user_id, u.total_events - s.events_total, s.saved_at,
       CASE WHEN u.total_events - s.events_total BETWEEN 0 AND %s THEN s.state END
FROM users u LEFT JOIN user_feature_states s ON s.user_id = u.user_id
WHERE u.user_id = ANY(%s::text[])
"""
# Of each user's latest events by event time (as RECENT_BY_USER), those stored after `saved_at`.
EVENTS_STORED_SINCE = """
SELECT e.event_id, e.user_id, e.session_id, e.event_type, e.device, e.country, e.value, e.event_time
FROM unnest(%s::text[], %s::timestamptz[]) AS u(user_id, saved_at)
CROSS JOIN LATERAL (
    SELECT event_id, user_id, session_id, event_type, device, country, value, event_time, created_at, source_offset
    FROM events WHERE events.user_id = u.user_id ORDER BY event_time DESC, event_id DESC LIMIT %s
) AS e
WHERE e.created_at > u.saved_at
ORDER BY e.created_at, e.source_offset, e.event_id
"""
SAVE_FEATURE_STATES = """
INSERT INTO user_feature_states (user_id, events_total, state, saved_at)
SELECT user_id, events_total, state, now()
FROM unnest(%b::text[], %b::int8[], %b::bytea[]) AS s(user_id, events_total, state)
ON CONFLICT (user_id) DO UPDATE SET
    events_total = EXCLUDED.events_total, state = EXCLUDED.state, saved_at = EXCLUDED.saved_at
"""
