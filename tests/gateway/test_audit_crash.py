"""Interval mode (``durable = false``): SIGKILL loses at most what was queued since the last
flush, and verify says where it ends. (The durable default is tested against a real gateway
process in ``test_audit_sigkill.py``.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from securellm.gateway.audit.verify import verify_directory

CHILD = """
import asyncio, sys, time
from pathlib import Path
from securellm.gateway.audit.writer import AuditWriter
from securellm.gateway.context import RequestContext

async def main() -> None:
    writer = AuditWriter(Path(sys.argv[1]), flush_interval_s=0.05, durable=False)
    await writer.start()
    print("started", flush=True)
    while True:
        ctx = RequestContext(endpoint="chat")
        ctx.model = repr(time.monotonic())
        writer.record(ctx)
        await asyncio.sleep(0.002)

asyncio.run(main())
"""


def test_sigkill_loses_only_the_last_interval_and_the_chain_stays_valid(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    audit = tmp_path / "audit"
    child = subprocess.Popen(
        [sys.executable, str(script), str(audit)], stdout=subprocess.PIPE, env=dict(os.environ)
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"started"
    time.sleep(1.5)
    killed_at = time.monotonic()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    records = [
        orjson.loads(line)
        for path in audit.glob("audit-*.jsonl")
        for line in path.read_bytes().splitlines()
    ]
    written = [float(r["model"]) for r in records]
    report = verify_directory(audit)
    assert report.ok, [str(p) for p in report.problems]
    assert report.ends[0].line == len(records) > 0
    # Everything recorded well before the kill (generous margin for a loaded CI box) is there.
    assert max(written) > killed_at - 1.0
    assert written == sorted(written)
