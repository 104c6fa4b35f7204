"""Manual sections survive regeneration."""

from __future__ import annotations

from securellm.nixaudit import manual

GENERATED = "# T\n\n" + manual.section("a", "placeholder") + "\n\n" + manual.section("b") + "\n"


def test_section_body_is_taken_from_the_existing_document() -> None:
    existing = "<!-- manual:a -->\nmy notes\n<!-- /manual:a -->"
    assert "my notes\n<!-- /manual:a -->" in manual.merge(GENERATED, existing)


def test_placeholder_stays_when_the_person_wrote_nothing() -> None:
    assert "placeholder" in manual.merge(GENERATED, "no sections here")


def test_sections_the_template_no_longer_has_are_preserved_at_the_end() -> None:
    existing = "<!-- manual:old -->\nkeep me\n<!-- /manual:old -->"
    merged = manual.merge(GENERATED, existing)
    assert merged.index("## Preserved notes") < merged.index("keep me")


def test_merge_without_existing_returns_the_generated_text() -> None:
    assert manual.merge(GENERATED, None) == GENERATED


def test_extract_reads_every_section() -> None:
    assert manual.extract(GENERATED) == {"a": "placeholder\n", "b": ""}
