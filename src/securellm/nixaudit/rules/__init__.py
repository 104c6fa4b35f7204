"""Rule plug-ins: every module in this package exposes ``RULES``, a tuple of Rule objects.

Adding a rule is one module here (and one test); nothing else needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil

from securellm.nixaudit.rule import Rule


def all_rules() -> dict[str, Rule]:
    """Every rule of every plug-in module, by id, in a stable order."""
    found: dict[str, Rule] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for rule in getattr(module, "RULES", ()):
            found[rule.id] = rule
    return found
