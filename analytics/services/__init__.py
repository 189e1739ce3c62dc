"""Analytics' writes, by topic: events (ingestion, recording, forgetting), storage (buffer, flush,
partitions), rollups (daily KPIs), segments (funnel drop-offs saved for campaigns)."""
