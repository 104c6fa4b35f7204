"""One rule for every model's chat format: config, then the GGUF's template, then known models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gguf import GGUFReader, GGUFWriter

from securellm.core.config import OffloadSettings
from securellm.offload.chat_format import resolve, server_args
from securellm.offload.gguf_meta import ModelMeta, read_gguf
from securellm.offload.registry import ModelRecord

from .conftest import write_tiny_gguf

TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>"
LLAMA_SERVER = ["llama-server", "-m", "{model}", "--port", "{port}"]


def _record(meta: ModelMeta | None, model_id: str = "m") -> ModelRecord:
    return ModelRecord(model_id, Path(f"/models/{model_id}.gguf"), "gguf", 1, 1, True, None, meta)


def test_the_gguf_template_is_read_into_the_metadata(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "plain.gguf")
    templated = tmp_path / "templated.gguf"
    source = GGUFReader(path)
    writer = GGUFWriter(templated, "llama")
    for field in source.fields.values():
        if not field.name.startswith("GGUF.") and field.name != "general.architecture":
            writer.add_key_value(field.name, field.contents(), field.types[0], field.types[-1])
    writer.add_chat_template(TEMPLATE)
    for tensor in source.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert read_gguf(path).chat_template is None
    assert read_gguf(templated).chat_template == TEMPLATE


def test_a_model_with_its_own_template_uses_it() -> None:
    chat = resolve(OffloadSettings(), _record(ModelMeta(chat_template=TEMPLATE)))
    assert (chat.source, chat.name, chat.usable) == ("gguf", None, True)
    assert server_args(OffloadSettings(), chat) == []


def test_a_model_without_a_template_cannot_chat_and_says_why() -> None:
    chat = resolve(OffloadSettings(), _record(ModelMeta(architecture="llama", name="x")))
    assert not chat.usable
    assert chat.reason and "tokenizer.chat_template" in chat.reason
    assert "chat_format" in chat.reason


def test_the_config_override_wins_over_the_gguf_template() -> None:
    settings = OffloadSettings(models=[{"id": "m", "chat_format": "chatml"}])
    chat = resolve(settings, _record(ModelMeta(chat_template=TEMPLATE)))
    assert (chat.source, chat.name) == ("config", "chatml")
    assert server_args(settings, chat) == ["--chat_format", "chatml"]


def test_a_llama_server_command_gets_its_own_template_flag() -> None:
    settings = OffloadSettings(
        llamacpp_command=LLAMA_SERVER, models=[{"id": "m", "chat_format": "chatml"}]
    )
    assert server_args(settings, resolve(settings, _record(None))) == ["--chat-template", "chatml"]


def test_a_chat_flag_in_extra_args_counts_as_the_override() -> None:
    settings = OffloadSettings(models=[{"id": "m", "extra_args": ["--chat_format", "gemma"]}])
    chat = resolve(settings, _record(ModelMeta()))
    assert (chat.source, chat.usable) == ("config", True)
    assert server_args(settings, chat) == []  # already in extra_args


def test_the_gemma_base_model_is_known_by_its_metadata_wherever_it_lies(
    gemma_meta: ModelMeta,
) -> None:
    assert gemma_meta.chat_template is None
    for model_id in ("gemma-3-270m", "my-copy"):
        chat = resolve(OffloadSettings(), _record(gemma_meta, model_id))
        assert (chat.source, chat.name) == ("known-model", "transcript")
        assert server_args(OffloadSettings(), chat) == ["--chat_format", "transcript"]


def test_a_gemma_with_a_template_uses_the_template(gemma_meta: ModelMeta) -> None:
    chat = resolve(OffloadSettings(), _record(replace(gemma_meta, chat_template=TEMPLATE)))
    assert chat.source == "gguf"


def test_an_ollama_model_served_by_ollama_uses_ollamas_template() -> None:
    settings = OffloadSettings(ollama_url="http://127.0.0.1:11434")
    record = replace(_record(ModelMeta()), format="ollama")
    assert resolve(settings, record).source == "gguf"
    assert not resolve(OffloadSettings(), record).usable  # served from its blob: the GGUF rule
