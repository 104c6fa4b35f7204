"""A small, realistic knowledge base and the queries people would type to find things in it.

Written for the search-quality tests (keyword-only here, hybrid with embeddings elsewhere):
each query names the one note a person asking it wants first. Most queries use a different
inflection of the note's words (``evicting`` for a note that says ``evicts``), the rest are
paraphrases that share few or no words with the note. Several notes share vocabulary on
purpose (redis, memory, test, restart), so a query has near misses to rank below its note.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    key: str
    title: str
    content: str
    tags: tuple[str, ...] = ()
    type: str = "note"


@dataclass(frozen=True)
class Query:
    text: str
    expected: str  # the Note.key that should rank first
    kind: str  # "inflection" or "paraphrase"


NOTES: tuple[Note, ...] = (
    Note(
        "redis-eviction",
        "Redis maxmemory policy",
        "Redis evicts keys with allkeys-lru once maxmemory is reached; the session cache lost "
        "hot keys during the import, so we raised maxmemory to 2gb on the cache node.",
        ("redis", "cache"),
    ),
    Note(
        "redis-persistence",
        "Redis persistence settings",
        "AOF with appendfsync everysec on the queue instance; RDB snapshots every 15 minutes "
        "are enough for the cache. Restarting redis replays the AOF in about 40 seconds.",
        ("redis",),
    ),
    Note(
        "http-retry",
        "Gateway upstream retry policy",
        "Requests to the provider are retried three times with exponential backoff and "
        "jitter, starting at 200 ms; a 429 honours Retry-After before the next retry.",
        ("gateway", "http"),
        "decision",
    ),
    Note(
        "rate-limit",
        "Per-key rate limiting",
        "Each API key gets a token bucket of 60 requests per minute; bursts above the bucket "
        "are answered 429 with a Retry-After header instead of queueing.",
        ("gateway",),
        "decision",
    ),
    Note(
        "nix-gc",
        "Freeing the Nix store",
        "Run nix-collect-garbage -d weekly from a systemd timer; old generations pinned the "
        "store at 180 GB. Keep the last three system generations for rollback.",
        ("nix", "disk"),
    ),
    Note(
        "python-gc",
        "Python reference cycles",
        "The parser objects held reference cycles through their callbacks; weakref.proxy for "
        "the back-pointer lets CPython free them without waiting for the cycle detector.",
        ("python", "memory"),
    ),
    Note(
        "tls-renewal",
        "TLS certificate renewal",
        "The ACME client failed to renew the certificate because port 80 was firewalled; the "
        "renewal now uses the DNS-01 challenge and the cert was renewed on the 3rd.",
        ("tls", "ops"),
        "error",
    ),
    Note(
        "postgres-vacuum",
        "Postgres table bloat",
        "The events table bloated to 40 GB because autovacuum could not keep up with updates; "
        "a manual VACUUM (FULL) over the weekend and a lower vacuum scale factor fixed it.",
        ("postgres", "database"),
        "error",
    ),
    Note(
        "asyncio-cancel",
        "Cancelling asyncio work cleanly",
        "Cancelling a task raises CancelledError inside it at the next await; catch it only to "
        "clean up and always re-raise, or the task group never finishes.",
        ("python", "async"),
    ),
    Note(
        "log-rotation",
        "Log rotation for the gateway",
        "logrotate keeps 14 daily files, compressed, with copytruncate because the gateway "
        "does not reopen its log file on SIGHUP.",
        ("ops", "logging"),
    ),
    Note(
        "flaky-ci",
        "Intermittent test failures",
        "Two integration tests failed now and then because they slept a fixed 100 ms before "
        "asserting; waiting on the event instead made the suite pass reliably.",
        ("tests", "ci"),
        "error",
    ),
    Note(
        "cuda-oom",
        "VRAM exhausted when loading the 70B model",
        "The CUDA allocator ran out of device memory with 40 layers offloaded; 32 layers fit "
        "in 24 GB with an 8k context. nvidia-smi showed another process holding 3 GB.",
        ("gpu", "llm"),
        "error",
    ),
    Note(
        "llama-context",
        "llama.cpp context size",
        "n_ctx of 8192 doubles the KV cache compared to 4096; with flash attention on, the "
        "13B model still fits alongside the embedding model.",
        ("llm",),
    ),
    Note(
        "systemd-restart",
        "Keeping the worker service up",
        "The worker service crashes on malformed jobs; Restart=on-failure with RestartSec=5 "
        "restarts it, and StartLimitBurst stops a crash loop from hammering the queue.",
        ("systemd", "ops"),
    ),
    Note(
        "db-migration",
        "Schema migration procedure",
        "Every schema migration runs in its own transaction and is tested against a copy of "
        "production first; the users table was migrated online with a shadow column.",
        ("database",),
        "decision",
    ),
    Note(
        "jwt-expiry",
        "Session token lifetime",
        "Access tokens are JWTs that expire after 15 minutes; the refresh token expires after "
        "30 days and is rotated on every use.",
        ("auth", "security"),
        "decision",
    ),
    Note(
        "cors",
        "CORS for the web console",
        "Only the console origin is allowed; preflight responses are cached for 10 minutes and "
        "credentials are never allowed with a wildcard origin.",
        ("http", "security"),
    ),
    Note(
        "memory-leak",
        "Gateway memory growth",
        "RSS grew 50 MB an hour because every streamed response kept its buffer in a global "
        "dict; removing the entry when the stream closes keeps memory flat.",
        ("gateway", "memory"),
        "error",
    ),
    Note(
        "docker-cache",
        "Docker build layer caching",
        "Copy pyproject.toml and install dependencies before copying the source, so editing "
        "code does not invalidate the dependency layer; builds went from 6 minutes to 40 s.",
        ("docker", "ci"),
    ),
    Note(
        "git-rebase",
        "Rebasing long-lived branches",
        "Use git rebase --onto main with rerere enabled; resolving the same conflict twice "
        "is what made the release branch painful.",
        ("git",),
    ),
    Note(
        "ssh-keys",
        "Deploy keys for CI",
        "Each repository gets its own read-only ed25519 deploy key; keys live in the CI secret "
        "store and are never written to the build log.",
        ("ci", "security"),
    ),
    Note(
        "nginx-proxy",
        "nginx in front of the gateway",
        "proxy_buffering off is needed for streamed responses, and proxy_read_timeout was "
        "raised to 300 s for long generations.",
        ("http", "ops"),
    ),
    Note(
        "k8s-crashloop",
        "Pod stuck in CrashLoopBackOff",
        "The readiness probe hit /health before the model finished loading; a startup probe "
        "with a 5 minute budget stopped the pod being killed.",
        ("kubernetes",),
        "error",
    ),
    Note(
        "timezone-bug",
        "Timestamps off by an hour",
        "Audit rows were written in local time on one host; all timestamps are now stored as "
        "UTC ISO 8601 strings and converted only for display.",
        ("database", "time"),
        "error",
    ),
    Note(
        "unicode-norm",
        "Unicode normalisation of tags",
        "Tags are NFC-normalised and lower-cased on save, so 'Café' typed on macOS and on "
        "Linux end up as the same tag.",
        ("unicode",),
    ),
    Note(
        "cron-backup",
        "Nightly database backup",
        "pg_dump runs at 02:30 from a systemd timer, the dump is encrypted with age and copied "
        "off-site; a restore is rehearsed on the first Monday of each month.",
        ("postgres", "backup"),
    ),
    Note(
        "secret-rotation",
        "Rotating the provider API keys",
        "Provider keys are rotated quarterly: add the new key, deploy, watch the error rate, "
        "then revoke the old key. Both keys are valid during the overlap.",
        ("security",),
        "todo",
    ),
    Note(
        "feature-flags",
        "Feature flags for risky changes",
        "New routing logic ships dark behind a flag read at request time; flipping it back "
        "needs no deploy.",
        ("release",),
        "decision",
    ),
    Note(
        "cursor-pagination",
        "Cursor pagination for the audit API",
        "Offset pagination got slow past page 1000; the API now returns an opaque cursor of "
        "(created_at, id) and scans the index from there.",
        ("database", "api"),
        "decision",
    ),
    Note(
        "websocket-reconnect",
        "Console websocket reconnects",
        "The browser reconnects with backoff capped at 30 s and resubscribes to its channels; "
        "the server drops idle connections after 2 minutes without a ping.",
        ("http",),
    ),
    Note(
        "profiling",
        "Finding the hot path in request handling",
        "py-spy showed 60% of request time in JSON serialisation of the usage record; "
        "switching to orjson cut median latency from 18 ms to 7 ms.",
        ("python", "performance"),
    ),
    Note(
        "dns-resolution",
        "Containers could not resolve hostnames",
        "The container's resolv.conf pointed at the host's 127.0.0.53 stub resolver, which is "
        "unreachable from inside the network namespace; systemd-resolved now listens on the "
        "bridge address.",
        ("network", "docker"),
        "error",
    ),
    Note(
        "embedding-batch",
        "Batching embedding requests",
        "Sending 64 texts per embeddings request instead of one cut indexing time by 20x; "
        "larger batches did not help on the local model.",
        ("llm", "performance"),
    ),
    Note(
        "test-fixtures",
        "Test database fixtures",
        "Each test gets a fresh SQLite file in a temp dir; the fixture applies the migrations, "
        "so tests always run against the current schema.",
        ("tests", "database"),
    ),
)

QUERIES: tuple[Query, ...] = (
    Query("evicting keys", "redis-eviction", "inflection"),
    Query("retries", "http-retry", "inflection"),
    Query("garbage collection", "nix-gc", "inflection"),
    Query("renewing certificates", "tls-renewal", "inflection"),
    Query("vacuuming tables", "postgres-vacuum", "inflection"),
    Query("cancelled tasks", "asyncio-cancel", "inflection"),
    Query("rotating logs", "log-rotation", "inflection"),
    Query("restarting crashed services", "systemd-restart", "inflection"),
    Query("migrating schemas", "db-migration", "inflection"),
    Query("expired tokens", "jwt-expiry", "inflection"),
    Query("flaky tests that fail randomly", "flaky-ci", "paraphrase"),
    Query("GPU out of memory", "cuda-oom", "paraphrase"),
    Query("slow JSON responses", "profiling", "paraphrase"),
)
