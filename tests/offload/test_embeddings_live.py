"""``POST /v1/embeddings`` on the real llama.cpp-based server with the bundled Gemma 3 270M,
through a real offload (loading the model on demand) and a real gateway in front of it, with
the official ``openai`` SDK's ``client.embeddings.create`` as the client."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from securellm.core.config import settings_from_mapping
from securellm.gateway.app import create_app as create_gateway
from securellm.offload.api import create_app as create_offload
from support.asgi_server import serve_app
from support.gateway import MASTER
from support.gateway import make_settings as gateway_settings
from support.require import missing

pytestmark = pytest.mark.llama
GEMMA = "gemma-3-270m"
DIM = 640  # Gemma 3 270M's embedding length


@pytest.fixture(scope="module")
def offload_url(tmp_path_factory: pytest.TempPathFactory, gemma_path: Path) -> Iterator[str]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    root = tmp_path_factory.mktemp("offload-embeddings")
    section = {
        "model_dirs": [], "ollama_dir": None, "huggingface_dir": None,
        "include_bundled": True, "registry_path": str(root / "registry.db"),
        "gpu": "simulated", "simulated_vram_mib": 4096, "default_ctx": 512, "gpu_units": [],
    }  # fmt: skip
    raw = {"data_dir": str(root / "o"), "state_dir": str(root / "os"),
           "log_dir": str(root / "ol"), "offload": section}  # fmt: skip
    os.environ.pop("SECURELLM_CONFIG", None)
    with serve_app(create_offload(settings_from_mapping(raw, env={}))) as url:
        yield url


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory, offload_url: str) -> Iterator[str]:
    provider = {"name": "local", "kind": "offload", "base_url": f"{offload_url}/v1"}
    settings = gateway_settings(tmp_path_factory.mktemp("gateway"), [provider])
    with serve_app(create_gateway(settings)) as url:
        yield url


def direct(offload_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{offload_url}/v1", api_key="unused", timeout=300)


def via_gateway(gateway_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER, timeout=300)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_offload_embeds_a_string_loading_the_model_on_demand(offload_url: str) -> None:
    reply = direct(offload_url).embeddings.create(model=GEMMA, input="the car needs tyres")
    assert reply.model == GEMMA
    assert [item.index for item in reply.data] == [0]
    assert len(reply.data[0].embedding) == DIM
    assert reply.usage.prompt_tokens > 0


def test_offload_embeds_a_list_one_vector_per_input_in_order(offload_url: str) -> None:
    texts = ["the car needs tyres", "the car needs tyres", "a poem about the sea"]
    reply = direct(offload_url).embeddings.create(model=GEMMA, input=texts)
    first, same, other = (item.embedding for item in reply.data)
    assert cosine(first, same) == pytest.approx(1.0, abs=1e-4)
    assert cosine(first, other) < cosine(first, same)


def test_float_and_base64_encodings_carry_the_same_vector(offload_url: str) -> None:
    client = direct(offload_url)
    floats = client.embeddings.create(model=GEMMA, input="hello", encoding_format="float")
    default = client.embeddings.create(model=GEMMA, input="hello")  # the SDK asks for base64
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, rel=1e-5)


def test_an_unknown_model_is_404_in_openais_shape(offload_url: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        direct(offload_url).embeddings.create(model="no-such-model", input="x")
    assert caught.value.body is not None


@pytest.mark.parametrize("bad", ["", [], [""], [1, 2]])
def test_bad_input_is_400_in_openais_shape(offload_url: str, bad: object) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        direct(offload_url).embeddings.create(model=GEMMA, input=bad)  # type: ignore[arg-type]
    assert "input" in str(caught.value)


def test_chat_still_answers_on_the_server_started_with_embeddings(offload_url: str) -> None:
    direct(offload_url).embeddings.create(model=GEMMA, input="warm")
    reply = direct(offload_url).completions.create(
        model=GEMMA, prompt="Once upon a time", max_tokens=8, temperature=0
    )
    assert reply.choices[0].text.strip()


def test_the_gateway_routes_embeddings_to_an_offload_provider(
    offload_url: str, gateway_url: str
) -> None:
    client = via_gateway(gateway_url)
    reply = client.embeddings.create(model=f"local/{GEMMA}", input=["the car needs tyres"])
    mine = direct(offload_url).embeddings.create(model=GEMMA, input="the car needs tyres")
    assert len(reply.data[0].embedding) == DIM
    assert cosine(reply.data[0].embedding, mine.data[0].embedding) == pytest.approx(1, abs=1e-4)
