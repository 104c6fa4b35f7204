"""The tamper-evident audit trail: hash-chained daily JSONL files, a DB index, verification."""
