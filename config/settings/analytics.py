"""Analytics: event ingestion limits, retention, rollups (docs/analytics.md)."""

from .env import env_int

# POST /api/v1/events: at most this many bytes on the wire, and once un-gzipped (a 413 past either).
# (DATA_UPLOAD_MAX_MEMORY_SIZE, the limit of every request body, applies too.)
ANALYTICS_MAX_BODY_BYTES = env_int("ANALYTICS_MAX_BODY_BYTES", 1024 * 1024)
ANALYTICS_MAX_INFLATED_BYTES = env_int("ANALYTICS_MAX_INFLATED_BYTES", 2 * 1024 * 1024)
ANALYTICS_MAX_BATCH = 100
# Raw events are kept this many months (whole monthly partitions are dropped); rollups are kept.
ANALYTICS_EVENT_RETENTION_MONTHS = env_int("ANALYTICS_EVENT_RETENTION_MONTHS", 13)
# Partitions are made this many months ahead of the current one.
ANALYTICS_PARTITIONS_AHEAD = env_int("ANALYTICS_PARTITIONS_AHEAD", 2)
# Rows one flush moves from the buffer to the event table per transaction.
ANALYTICS_FLUSH_CHUNK = env_int("ANALYTICS_FLUSH_CHUNK", 20_000)
