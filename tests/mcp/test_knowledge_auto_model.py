"""``embedding_model = "auto"``: which model of the gateway's list embeds."""

from __future__ import annotations

from securellm.core.config.knowledge import KnowledgeSettings
from securellm.mcp.knowledge.auto_model import pick_model

LOCAL = frozenset({"local"})


def listing(*ids: str) -> dict[str, object]:
    return {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}


def test_a_model_named_for_embedding_is_preferred() -> None:
    assert pick_model(listing("local/gemma", "cloud/text-embedding-3-small"), LOCAL) == (
        "cloud/text-embedding-3-small"
    )


def test_else_the_first_model_of_a_local_provider() -> None:
    assert pick_model(listing("cloud/gpt-4o", "local/gemma-3-270m"), LOCAL) == "local/gemma-3-270m"


def test_no_embedding_and_no_local_model_picks_none() -> None:
    assert pick_model(listing("cloud/gpt-4o", "fast"), LOCAL) is None


def test_a_list_that_is_not_openais_picks_none() -> None:
    assert pick_model({"models": []}, LOCAL) is None


def test_auto_is_the_default() -> None:
    assert KnowledgeSettings().embedding_model == "auto"


def test_off_and_empty_turn_embeddings_off() -> None:
    for value in ("", "off", "OFF", " none "):
        assert KnowledgeSettings(embedding_model=value).embedding_model is None
