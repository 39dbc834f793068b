"""Loading and validating the TOML configuration file into typed models."""

from __future__ import annotations

import difflib
import inspect
import re
import sys
import tomllib
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, TypeGuard, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from edge.config.crosscheck import cross_section_problems
from edge.config.typeerrors import merge_alternatives, type_problem
from edge.config.model import AppConfig, CrossReferenceErrors
from edge.errors import ConfigError
from edge.strict import excerpt, mask_iins

__all__ = ["AppConfig", "load_config", "load_config_or_report", "parse_config"]


def _path(loc: tuple[Any, ...]) -> str:
    # A key is the sender's text too (central's cfg, a pasted table): short, no IIN.
    return ".".join(mask_iins(str(p)[:40]) for p in loc) or "(top level)"


def _file_path(loc: tuple[Any, ...], data: Any, missing: bool = True) -> tuple[Any, ...]:
    """The key path as written in the file: pydantic puts the name of a union's variant
    into `loc` (`printers.kiosk.file.paper_mm`), which is no key anyone typed.

    Walks the data along `loc` and drops every part that is not in it, except the last
    part of a `missing` key's path (a missing key is not in the data either)."""
    out: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, int) and str(part) in node:
            node = node[str(part)]   # a number key, read from its text (edge/strict.py)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and i == len(loc) - 1 and missing:
            pass  # the missing key itself
        else:
            continue  # a union variant's name ("file", "fake", "alsa", "str")
        out.append(part)
    return tuple(out)


def _tags(err: Mapping[str, Any]) -> str:
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


# A required section that is missing: what to add (the file has no line to point at).
_SECTIONS = {
    "center": "add a [center] table with site and name",
    "services": "add at least one [[services]] table",
    "windows": "add at least one [[windows]] table",
}


def _unwrap(tp: Any) -> Any:
    """Annotated[X, ...] and X | None -> X."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType) and len(
                [a for a in get_args(tp) if a is not type(None)]) == 1:
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def _is_model(tp: Any) -> TypeGuard[type[BaseModel]]:
    return inspect.isclass(tp) and issubclass(tp, BaseModel)


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the table at pydantic's `loc` (union variants named in it) may have."""
    tp = _unwrap(_type_at(loc))
    return list(tp.model_fields) if _is_model(tp) else []


def _description_at(loc: tuple[Any, ...]) -> str:
    """The description of the field at pydantic's `loc` ('' when there is none)."""
    parent = _unwrap(_type_at(loc[:-1])) if loc else None
    if _is_model(parent) and loc[-1] in parent.model_fields:
        return parent.model_fields[loc[-1]].description or ""
    # An item of a list or table whose type carries its own description (Lang, Token).
    tp = _type_at(loc)
    if get_origin(tp) is Annotated:
        return next((m.description for m in get_args(tp)[1:]
                     if getattr(m, "description", None)), "")
    return ""


def _type_at(loc: tuple[Any, ...]) -> Any:
    """The type pydantic validates at `loc`, walking from AppConfig; None if unknown."""
    tp: Any = AppConfig
    for part in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if _is_model(tp):
            if part not in tp.model_fields:
                return None
            tp = tp.model_fields[part].annotation
        elif origin is list:
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        elif origin in (Union, types.UnionType):
            # A union with a `type`/`kind` tag: pydantic puts the tag into the path.
            variants = [v for v in map(_unwrap, get_args(tp)) if _is_model(v) and any(
                get_origin(f.annotation) is Literal and part in get_args(f.annotation)
                for f in v.model_fields.values())]
            if not variants:
                return None
            tp = variants[0]
        else:
            return None
    return tp


def _suggestion(err: dict[str, Any], data: Any) -> str | None:
    """The valid key nearest to an unknown key's spelling, if one is close and not set yet."""
    loc = tuple(err.get("loc", ()))
    if not loc:
        return None
    file_parent = _file_path(loc[:-1], data, missing=False)
    node: Any = data
    for part in file_parent:
        node = node[part] if isinstance(node, (dict, list)) else None
    present = set(node) if isinstance(node, dict) else set()
    candidates = [k for k in _keys_at(loc[:-1]) if k not in present]
    close = difflib.get_close_matches(str(loc[-1]), candidates, n=1, cutoff=0.6)
    return close[0] if close else None




def _explain(err: dict[str, Any], data: Any = None) -> str:
    loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-")))
    kind = err.get("type", "")
    if data is not None:
        loc = _file_path(loc, data, missing=kind == "missing")
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        key = str(err.get("ctx", {}).get("discriminator", "type")).strip("'")
        where = _path(loc + (key,))
        if kind == "union_tag_invalid":
            tag = got.get(key) if isinstance(got := err.get("input"), dict) else None
            if not isinstance(tag, str):   # pydantic shows true as 'True'
                return (f"{where}: expected one of {_tags(err)}, in double quotes "
                        f"(got {excerpt(tag)})")
            return f"{where}: unknown {key} {excerpt(tag)}; one of {_tags(err)}"
        try:
            tags = _expected_tags(data, loc, key) if isinstance(data, dict) else ""
        except (KeyError, IndexError, TypeError):
            tags = ""
        return f"{where}: required" + (f"; one of {tags}" if tags else "")
    if kind == "extra_forbidden":
        near = _suggestion(err, data) if data is not None else None
        if near:
            return f"{_path(loc)}: unknown key; did you mean {near!r}?"
        return f"{_path(loc)}: unknown key; remove it or check its spelling"
    if kind == "missing" and isinstance(err.get("input"), (list, tuple)):
        # A list such as range = [1] that lacks an item: pydantic calls the item "missing".
        return f"{_path(loc)}: too few values (got {list(err['input'])})"
    if kind == "missing":
        if len(loc) == 1 and loc[0] in _SECTIONS:
            return f"{loc[0]}: required section is missing; {_SECTIONS[loc[0]]} (see config/demo.toml)"
        return f"{_path(loc)}: required key is missing"
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {excerpt(got)})"
    if kind == "list_type" and isinstance(got, dict):
        return (f"{_path(loc)}: expected a list, got a table; for a list of tables write "
                f"[[{_path(loc)}]] (two brackets) before each one")
    if kind == "string_pattern_mismatch":
        what = _description_at(tuple(err.get("loc", ())))
        if what:
            return f"{_path(loc)}: not in the required form{shown}; expected: {what}"
    wrong_type = type_problem(_path(loc), kind, got, loc[-1] if loc else None)
    if wrong_type is not None:
        return wrong_type
    if kind == "literal_error":   # "Input should be 'poll' or 'none'"
        return f"{_path(loc)}: expected {msg.removeprefix('Input should be ')}{shown}"
    head = msg.split(":")[0]
    # A message from our own validators may already start with its key path...
    if head.count(".") and " " not in head:
        return msg
    # ... or with the key of the table it is about ("active_high: required with ...").
    if re.fullmatch(r"[a-z_]+", head) and msg.startswith(head + ": ") and _path(loc) != "(top level)":
        return f"{_path(loc)}.{msg}"
    return f"{_path(loc)}: {msg}{shown}"


def _file_order(problem: str, data: Any) -> tuple[int, ...]:
    """Where the key a problem names is in the file (tomllib keeps the file's order):
    problems are listed top to bottom, each next to the others of its table."""
    head = problem.split(": ", 1)[0]
    if " " in head:
        return ()
    node, where = data, []
    for part in head.split("."):
        if isinstance(node, dict):
            keys = [str(k) for k in node]
            if part not in keys:
                where.append(len(keys))   # a missing key: after the keys that are there
                break
            where.append(keys.index(part))
            node = list(node.values())[keys.index(part)]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            where.append(int(part))
            node = node[int(part)]
        else:
            break
    return tuple(where)


def _chosen_alternatives(errors: list[Any], data: Any) -> list[Any]:
    """A key that takes text or a table, given a table with a bad item: pydantic reports
    the item, and also "expected text" for the key, which is not what the file meant.
    Drops such a wrong-type error when another error lies inside the same key."""
    def file_loc(err: Any) -> tuple[Any, ...]:
        loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-")))
        return _file_path(loc, data, missing=err.get("type") == "missing")

    paths = [file_loc(err) for err in errors]
    out = []
    for err, path in zip(errors, paths):
        alternative = len(tuple(err.get("loc", ()))) > len(path)   # a union variant's name
        inside = any(len(p) > len(path) and p[:len(path)] == path for p in paths)
        if alternative and inside and type_problem("", err.get("type", ""), None, None):
            continue
        out.append(err)
    return out


def parse_config(data: dict[str, Any], source: str = "<config>", *,
                 strict: bool = True) -> AppConfig:
    """Validate the file's data; raises ConfigError listing every problem, in file order.

    `strict=False` converts types as pydantic's lax mode does ("5" -> 5): only for a cfg
    from central that an older edge accepted and saved (edge/sync/downlink.py)."""
    try:
        # strict=None, not True: a run-time True would override the conversions the
        # models make on purpose (a path from text, edge/strict.py).
        return AppConfig.model_validate(data, strict=None if strict else False)
    except ValidationError as e:
        errors = _chosen_alternatives(e.errors(), data)
    problems: list[str] = []
    bad: list[tuple[Any, ...]] = []   # key paths (as in the file) with errors of their own
    cross_checked = False
    for err in errors:
        cross = err.get("ctx", {}).get("error")
        if isinstance(cross, CrossReferenceErrors):
            problems += cross.problems
            cross_checked = True
            continue
        loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith("function-")))
        bad.append(_file_path(loc, data, missing=err.get("type") == "missing"))
        if err.get("type") in ("union_tag_not_found", "union_tag_invalid"):
            bad[-1] += (str(err.get("ctx", {}).get("discriminator", "type")).strip("'"),)
        problems.append(_explain(err, data))
    problems = merge_alternatives(problems)
    # A misspelt required key gives "unknown key 'prefx'; did you mean 'prefix'?": the
    # "prefix: required key is missing" next to it says the same thing again.
    typos = {(m[1].rsplit(".", 1)[0] + "." + m[2]) if "." in m[1] else m[2]
             for p in problems if (m := re.match(r"(\S+): unknown key; did you mean '(\w+)'\?", p))}
    problems = [p for p in problems
                if not (p.endswith(("required key is missing", "(see config/demo.toml)"))
                        and p.split(": ", 1)[0] in typos)]
    if not cross_checked:
        # The rules between sections still run on the usable rest of the file, so that one
        # run lists every problem (AppConfig's own check only runs on a valid file).
        problems += cross_section_problems(data, bad)
    problems.sort(key=lambda p: _file_order(p, data))
    raise ConfigError(source, problems) from None


_TOML_HINTS = (
    ("Invalid value", "a text needs double quotes (site = \"ast-01\"), a list its closing ]"),
    ("Cannot overwrite a value", "this key is already set in this table; keep one of the two"),
    ("Cannot declare", "this table is already declared above; merge the two"),
    ("Unterminated string", "a quote is not closed"),
    ("Illegal character '\\n'", "a quote is not closed on this line"),
    ("Unclosed array", "a list [ ... ] is not closed with ]"),
    ("Unclosed inline table", "a { ... } is not closed with }"),
    ("Expected newline or end of document after a statement",
     "one key = value per line; a text needs double quotes"),
    ("Expected '=' after a key", "write key = value"),
)


def _toml_problem(text: str, error: tomllib.TOMLDecodeError) -> str:
    """A TOML syntax error as one line: where, what is wrong, what to write, the line itself."""
    full = str(error)
    m = re.search(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$", full)
    msg = full[:m.start()] if m else full
    lines = text.splitlines()
    number: int | None
    if m and m.group(1):
        where, number = f"line {m.group(1)}, column {m.group(2)}", int(m.group(1))
    else:
        # Python 3.11 says "at end of document" for an unclosed string or a key set twice:
        # the line is the first whose text (with all before it) gives this error.
        number = _first_failing_line(lines, msg)
        where = f"line {number}" if number else "at the end of the file"
    # "Cannot declare ('gpio', 'buzzers') twice" -> "Cannot declare [gpio.buzzers] twice"
    msg = re.sub(r"\(((?:'[^']*',? ?)+)\)",
                 lambda t: "[" + ".".join(re.findall(r"'([^']*)'", t.group(1))) + "]", msg)
    hint = next((h for k, h in _TOML_HINTS if msg.startswith(k)), "")
    out = f"{where}: not valid TOML: {msg}" + (f" ({hint})" if hint else "")
    if number and 0 < number <= len(lines) and lines[number - 1].strip():
        out += f"; the line reads: {lines[number - 1].strip()[:80]}"
    return out


def _first_failing_line(lines: list[str], msg: str) -> int | None:
    for k in range(len(lines), 0, -1):
        try:
            tomllib.loads("\n".join(lines[:k - 1]))
        except tomllib.TOMLDecodeError as e:
            if str(e).startswith(msg):
                continue
        return k
    return None


def load_config(path: str | Path) -> AppConfig:
    """Read and validate a config file; raises ConfigError listing every problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found; pass the path of a .toml config "
                                   "(an example: config/demo.toml)"]) from None
    except IsADirectoryError:
        raise ConfigError(str(p), ["this is a folder, not a file; pass the path of the .toml "
                                   "config in it"]) from None
    except PermissionError:
        # The installed file is root:kezek 0640 (docs/install.md).
        raise ConfigError(str(p), ["cannot read the file: permission denied; run the command "
                                   "with sudo, or as a user of the kezek group"]) from None
    except OSError as e:
        raise ConfigError(str(p), [f"cannot read the file: {e.strerror}"]) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Notepad's "Unicode" encoding.
        raise ConfigError(str(p), ["the file is UTF-16 text; save it as UTF-8 "
                                   "(in Notepad: Save as, Encoding: UTF-8)"])
    try:
        # utf-8-sig: Windows Notepad saves UTF-8 with a byte order mark, which TOML
        # would report as an invalid statement at line 1, column 1.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(str(p), [
            f"line {line}: not UTF-8 text (byte 0x{raw[e.start]:02X}; perhaps saved as "
            f"Windows-1251); save the file as UTF-8"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), [_toml_problem(text, e)]) from None
    if not data:
        raise ConfigError(str(p), ["the file is empty (no settings); start from a copy of "
                                   "config/demo.toml (every key is in docs/config.md)"])
    return parse_config(data, str(p))


def load_config_or_report(path: str | Path) -> AppConfig | None:
    """load_config for commands: on a bad file, print every problem to stderr, return None."""
    try:
        return load_config(path)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return None
