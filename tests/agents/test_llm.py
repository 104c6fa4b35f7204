"""Simon Willison's ``llm`` through the gateway's OpenAI chat API, to every upstream kind.

``llm`` reads ``extra-openai-models.yaml`` in its config dir (``LLM_USER_PATH``): a model id
with the gateway's ``/v1`` URL as ``api_base``, ``api_key_name`` naming an entry of
``keys.json`` there, and ``supports_tools: true``. ``--functions`` offers a Python function
as a tool; ``llm`` runs the tool call the model makes and sends the result back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.agent_audit import assert_session_clean, request_records
from support.agent_gateway import (
    AgentGateway,
    agent_gateway,
    client_binary,
    client_env,
    local_gateway,
    run_client,
)
from support.scripted.script import FINAL_MARKER, SENTINEL_FILE, SENTINEL_TEXT

pytestmark = pytest.mark.agents
PROMPT = f"Use the write_file tool to write {SENTINEL_TEXT} into {SENTINEL_FILE}."
WRITE_FILE = """
def write_file(path: str, content: str) -> str:
    "Write content into the file at path (relative to the working directory)."
    with open(path, "w") as handle:
        handle.write(content)
    return "written"
"""


def configure(gateway: AgentGateway, user_path: Path) -> None:
    user_path.mkdir(parents=True)
    (user_path / "extra-openai-models.yaml").write_text(
        f"- model_id: securellm\n  model_name: {gateway.model}\n"
        f"  api_base: {gateway.openai_base}\n  api_key_name: securellm\n"
        "  supports_tools: true\n"
    )
    (user_path / "keys.json").write_text(json.dumps({"securellm": gateway.key}))


def run_llm(gateway: AgentGateway, tmp_path: Path) -> tuple[str, Path]:
    work = tmp_path / "work"
    work.mkdir()
    user_path = tmp_path / "home" / "llm"
    configure(gateway, user_path)
    env = client_env(tmp_path / "home", LLM_USER_PATH=str(user_path))
    llm = client_binary("llm", "bin", "llm")
    argv = [str(llm), "-m", "securellm", "--functions", WRITE_FILE, "--no-log", PROMPT]
    done = run_client(argv, work, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, work


@pytest.mark.parametrize("kind", ["openai-compatible", "deepseek", "openai", "anthropic"])
def test_llm_runs_a_function_tool_through_the_gateway(tmp_path: Path, kind: str) -> None:
    with agent_gateway(tmp_path, kind) as gateway:
        output, work = run_llm(gateway, tmp_path)
        assert FINAL_MARKER in output
        assert (work / SENTINEL_FILE).read_text() == SENTINEL_TEXT
        assert len(gateway.upstream.generations) == 2  # the tool call, then the final text
        assert_session_clean(gateway, kind)


@pytest.mark.llama
def test_llm_finishes_on_the_local_model_without_a_4xx(tmp_path: Path, llama_url: str) -> None:
    # A 270M model cannot be trusted to call tools: only the run and the statuses are checked.
    with local_gateway(tmp_path, llama_url) as gateway:
        run_llm(gateway, tmp_path)
        records = request_records(gateway)
        assert records != []
        assert [(r["status"], r["error"]) for r in records if r["status"] >= 400] == []
