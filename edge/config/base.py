"""The strict base model every configuration section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not be silently ignored); values are frozen;
    types are taken as written: "5" is not 5 and true is not 1 (strict mode). The few
    conversions wanted on purpose are named at their fields (edge/strict.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


def ip_address(v: str, example: str = "127.0.0.1") -> str:
    """A page's bind address (or a PC's): an IP, not a host name (nothing resolves it)."""
    import ipaddress
    try:
        ipaddress.ip_address(v)
    except ValueError:
        raise ValueError(f"expected an IP address such as '{example}', got {v!r}") from None
    return v


def unprivileged_port(v: int, example: int) -> int:
    """A page's port the service may take: it runs as user kezek with no capabilities
    (CapabilityBoundingSet=), so a port below 1024 would only fail at start."""
    if 0 < v < 1024:
        raise ValueError(f"port {v} needs root privileges, which the service does not "
                         f"have; use a port of 1024 or more, e.g. {example}")
    return v
