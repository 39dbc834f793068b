"""The base of every wire message: strict types, unknown fields ignored, version 1 only."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict

from edge.strict import WholeChoice

IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"   # a site or device id
DB_ID = r"^[A-Za-z0-9-]{1,64}$"         # an edge database's id (a uuid made once)


class Wire(BaseModel):
    """Base of every message: unknown fields are ignored (v1 grows by adding fields), but
    a known one of the wrong type is refused, never converted: an ack whose `acked_seq`
    is the string "2" deletes nothing."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


# pydantic matches true to 1 in a Literal even in strict mode.
Version = Annotated[Literal[1], WholeChoice]
