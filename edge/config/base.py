"""The strict base model every configuration section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not be silently ignored); values are frozen;
    types are taken as written: "5" is not 5 and true is not 1 (strict mode). The few
    conversions wanted on purpose are named at their fields (edge/strict.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)
