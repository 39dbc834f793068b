"""Loading and validating the TOML configuration file into typed models."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.config.model import AppConfig
from edge.errors import ConfigError

__all__ = ["AppConfig", "load_config", "load_config_or_report", "parse_config"]


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _explain(err: dict[str, Any]) -> str:
    loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-")))
    kind = err.get("type", "")
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"{_path(loc)}: unknown key; remove it or check its spelling"
    if kind == "missing":
        return f"{_path(loc)}: required key is missing"
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
    # A message from our own validators may already start with its key path.
    if msg.split(":")[0].count(".") and " " not in msg.split(":")[0]:
        return msg
    return f"{_path(loc)}: {msg}{shown}"


def parse_config(data: dict[str, Any], source: str = "<config>") -> AppConfig:
    try:
        return AppConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, [_explain(err) for err in e.errors()]) from None


def load_config(path: str | Path) -> AppConfig:
    """Read and validate a config file; raises ConfigError listing every problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found; pass the path of a .toml config "
                                   "(an example: config/demo.toml)"]) from None
    except OSError as e:
        raise ConfigError(str(p), [f"cannot read the file: {e.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(str(p), [f"not UTF-8 text (byte {e.start}); save the file as UTF-8"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), [f"not valid TOML: {e}"]) from None
    return parse_config(data, str(p))


def load_config_or_report(path: str | Path) -> AppConfig | None:
    """load_config for commands: on a bad file, print every problem to stderr, return None."""
    try:
        return load_config(path)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return None
