"""``securellm up`` (what ``make run`` starts): offload + gateway answer a real chat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import openai

from support.llama import gemma_gguf_path
from support.require import free_port

MASTER = "sk-up-test-master-0123456789"


def test_up_serves_the_bundled_model_through_the_gateway(tmp_path: Path) -> None:
    gemma_gguf_path()  # skips (or fails in CI) when the model package is missing
    gateway_port, offload_port = free_port(), free_port()
    config = tmp_path / "securellm.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nlog_dir = "{tmp_path}/log"\n'
        f'state_dir = "{tmp_path}/state"\n'
        f'[gateway]\nport = {gateway_port}\nmaster_key = "{MASTER}"\n'
        f"[offload]\nport = {offload_port}\n"
        f'[[providers]]\nname = "local"\nkind = "offload"\n'
        f'base_url = "http://127.0.0.1:{offload_port}/v1"\n'
    )
    env = {**os.environ, "SECURELLM_CONFIG": str(config)}
    process = subprocess.Popen(
        [sys.executable, "-m", "securellm", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{gateway_port}"
    try:
        _wait(f"{base}/health", process)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=MASTER, max_retries=0)
        reply = client.chat.completions.create(
            model="local/gemma-3-270m",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            temperature=0,
            max_tokens=16,
        )
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    assert "Paris" in (reply.choices[0].message.content or "")
    assert f"curl {base}/v1/chat/completions" in output
    assert MASTER not in output


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"securellm up exited with {process.returncode}")
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError("securellm up did not start within 180 s")
