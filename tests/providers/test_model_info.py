"""Reading a local server's context window from its model list and from llama.cpp's /props."""

from __future__ import annotations

from securellm.providers.model_info import context_in_props, contexts_in_model_list


def test_offload_and_vllm_entries_give_their_context() -> None:
    data = {
        "object": "list",
        "data": [
            {"id": "qwen", "object": "model", "context_length": 8192},
            {"id": "llama", "object": "model", "max_model_len": 32768},
        ],
    }
    assert contexts_in_model_list(data) == {"qwen": 8192, "llama": 32768}


def test_llama_server_entries_give_the_training_context_from_meta() -> None:
    data = {"data": [{"id": "m.gguf", "meta": {"n_ctx_train": 131072, "n_vocab": 32000}}]}
    assert contexts_in_model_list(data) == {"m.gguf": 131072}


def test_entries_without_a_context_or_with_a_bad_one_are_left_out() -> None:
    data = {"data": [{"id": "a"}, {"id": "b", "context_length": "big"}, {"context_length": 9}]}
    assert contexts_in_model_list(data) == {}
    assert contexts_in_model_list({"models": []}) == {}


def test_props_gives_the_context_the_server_was_started_with() -> None:
    assert context_in_props({"default_generation_settings": {"n_ctx": 4096}}) == 4096


def test_props_without_a_context_says_nothing() -> None:
    assert context_in_props({"default_generation_settings": {}}) is None
    assert context_in_props(["not", "an", "object"]) is None
