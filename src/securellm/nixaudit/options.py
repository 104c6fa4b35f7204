"""What the module system does with two definitions of one option: merge or conflict.

The facts live in ``data/options.toml`` (option path -> declared type, for common NixOS and
home-manager options); options not in it are judged by the last name of their path.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

ANY_NAME = "<name>"


class Merge(StrEnum):
    MERGES = "merges"  # definitions are combined (lines, lists, attribute sets)
    CONFLICTS = "conflicts"  # a declared scalar type: different values are an error
    UNKNOWN = "unknown"  # not in the table: judge by the values' kind


@dataclass(frozen=True, slots=True)
class OptionTable:
    types: dict[tuple[str, ...], str]
    merging_types: frozenset[str]
    suffixes: tuple[str, ...]

    def type_of(self, path: tuple[str, ...]) -> str | None:
        """The declared type of ``path``, ``<name>`` entries matching any one name."""
        exact = self.types.get(path)
        if exact is not None:
            return exact
        for pattern, declared in self.types.items():
            if len(pattern) == len(path) and all(
                p in (ANY_NAME, n) for p, n in zip(pattern, path, strict=True)
            ):
                return declared
        return None

    def merge_of(self, path: tuple[str, ...]) -> Merge:
        declared = self.type_of(path)
        if declared is not None:
            head = declared.removeprefix("nullOr ").split()[0]
            return Merge.MERGES if head in self.merging_types else Merge.CONFLICTS
        if path and path[-1].endswith(self.suffixes):
            return Merge.MERGES
        return Merge.UNKNOWN


@cache
def option_table() -> OptionTable:
    """The table shipped with the package (read once; it never changes at run time)."""
    text = resources.files("securellm.nixaudit").joinpath("data/options.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return OptionTable(
        types={tuple(k.split(".")): str(v) for k, v in data["options"].items()},
        merging_types=frozenset(data["merging"]["types"]),
        suffixes=tuple(data["merging"]["suffixes"]),
    )


def merge_of(path: tuple[str, ...]) -> Merge:
    return option_table().merge_of(path)
