"""Loading and validating the TOML configuration file into typed models."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.config.model import AppConfig, CrossReferenceErrors
from edge.errors import ConfigError

__all__ = ["AppConfig", "load_config", "load_config_or_report", "parse_config"]


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _file_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """The key path as written in the file: pydantic puts the name of a union's variant
    into `loc` (`printers.kiosk.file.paper_mm`), which is no key anyone typed.

    Walks the data along `loc` and drops every part that is not in it, except a last
    part of a table (a missing key is not in the data either)."""
    out: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and i == len(loc) - 1:
            pass  # the missing key itself
        else:
            continue  # a union variant's name ("file", "fake", "alsa", "str")
        out.append(part)
    return tuple(out)


def _tags(err: dict[str, Any]) -> str:
    """'usb', 'serial' -> usb, serial (pydantic's own list of expected tags)."""
    return str(err.get("ctx", {}).get("expected_tags", "")).replace("'", "")


def _expected_tags(data: dict[str, Any], loc: tuple[Any, ...], key: str) -> str:
    """The tags a union at `loc` accepts: validate once more with an impossible tag there
    and read them from the error (pydantic does not list them when the tag is missing)."""
    import copy
    probe = copy.deepcopy(data)
    node: Any = probe
    for part in loc:
        node = node[part]
    node[key] = "\x00"
    try:
        AppConfig.model_validate(probe)
    except ValidationError as e:
        for err in e.errors():
            if err.get("type") == "union_tag_invalid" and tuple(err.get("loc", ())) == loc:
                return _tags(err)
    return ""


def _explain(err: dict[str, Any], data: Any = None) -> str:
    loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-")))
    if data is not None:
        loc = _file_path(loc, data)
    kind = err.get("type", "")
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        key = str(err.get("ctx", {}).get("discriminator", "type")).strip("'")
        where = _path(loc + (key,))
        if kind == "union_tag_invalid":
            return (f"{where}: unknown {key} {err.get('ctx', {}).get('tag')!r}; "
                    f"one of {_tags(err)}")
        try:
            tags = _expected_tags(data, loc, key) if isinstance(data, dict) else ""
        except (KeyError, IndexError, TypeError):
            tags = ""
        return f"{where}: required" + (f"; one of {tags}" if tags else "")
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
        problems: list[str] = []
        for err in e.errors():
            cross = err.get("ctx", {}).get("error")
            if isinstance(cross, CrossReferenceErrors):
                problems += cross.problems
            else:
                problems.append(_explain(err, data))
        raise ConfigError(source, problems) from None


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
        # utf-8-sig: Windows Notepad saves UTF-8 with a byte order mark, which TOML
        # would report as an invalid statement at line 1, column 1.
        data = tomllib.loads(raw.decode("utf-8-sig"))
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
