"""Shared base for the typed params sections."""

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """A frozen params section that rejects unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")
