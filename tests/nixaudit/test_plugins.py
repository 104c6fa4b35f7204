"""The rule plug-in registry: every rule is complete, unique, and has its own test."""

from __future__ import annotations

from pathlib import Path

import pytest

from securellm.nixaudit import all_rules
from securellm.nixaudit import rules as rules_package
from securellm.nixaudit.model import Severity

RULES = all_rules()


def test_rule_ids_are_unique_kebab_case() -> None:
    assert all(rule_id == rule_id.lower() and " " not in rule_id for rule_id in RULES)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_declares_severity_title_explanation_and_fix(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert isinstance(rule.severity, Severity)
    assert rule.title
    assert rule.explanation
    assert rule.fix


def test_every_rule_module_has_a_test_module() -> None:
    modules = {p.stem for p in Path(rules_package.__file__).parent.glob("*.py")} - {"__init__"}
    tests = {
        p.stem.removeprefix("test_") for p in (Path(__file__).parent / "rules").glob("test_*.py")
    }
    assert modules <= tests


def test_registry_finds_at_least_the_issue_rules() -> None:
    assert len(RULES) >= 17
