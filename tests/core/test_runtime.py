"""Process tuning for servers: the collector leaves start-up objects alone."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from securellm.core.runtime import YOUNG_THRESHOLD, tune_gc
before = gc.get_threshold()
tune_gc()
print(gc.get_freeze_count() > 0, gc.get_threshold()[0] == YOUNG_THRESHOLD,
      gc.get_threshold()[1:] == before[1:])
"""


def test_tune_gc_freezes_start_up_objects_and_collects_young_objects_less_often() -> None:
    # In a child process: freezing is for the whole process, not the test runner.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]
