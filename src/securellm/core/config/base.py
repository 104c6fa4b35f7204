"""The base class of every settings section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base for every section: frozen, and unknown keys are errors (typos get caught)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
