"""Wrong-typed values for every field of a model, derived from the model itself.

A field's JSON Schema (pydantic's, from the model) says which JSON types it takes and
what its items or table values take; every other type is wrong, and so is the right
value written as another type ("5" for 5, "true" for true, 5 for "5", 2.5 for a whole
number). `model_nodes` finds where each model sits in a valid document, so a test can
put a wrong value into every field of every model it holds and check the error's key
path. A field or a model added later is covered without touching the tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import types
from typing import Annotated, Any, Iterator, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic import BaseModel

JSON_TYPES = frozenset({"integer", "number", "string", "boolean", "null", "array", "object"})
Loc = tuple[Any, ...]


# -- the models of a document -------------------------------------------------------------

def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _is_model(tp: Any) -> bool:
    return inspect.isclass(tp) and issubclass(tp, BaseModel)


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The model classes a field's type may hold (through Optional, unions, lists, dicts)."""
    tp = _unwrap(tp)
    if _is_model(tp):
        return [tp]
    out: list[type[BaseModel]] = []
    for arg in get_args(tp):
        if arg is not Ellipsis and not isinstance(arg, (str, int)):
            out += _models_in(arg)
    return out


def reachable_models(*roots: type[BaseModel]) -> set[type[BaseModel]]:
    """Every model class a document of `roots` may contain, the roots included."""
    seen: set[type[BaseModel]] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for f in m.model_fields.values():
            todo += _models_in(f.annotation)
    return seen


def _discriminator(tp: Any) -> str | None:
    """The tag key of a discriminated union type (`type`, `kind`), from its Field()."""
    for meta in get_args(tp)[1:] if get_origin(tp) is Annotated else ():
        if isinstance(getattr(meta, "discriminator", None), str):
            return str(meta.discriminator)
    return None


def _variant(tp: Any, value: Any, tag: str | None = None) -> type[BaseModel] | None:
    """The model class of `tp` that validates `value` (a union's variant by its tag)."""
    models = _models_in(tp)
    if len(models) == 1:
        return models[0]
    tag = tag or _discriminator(tp)
    if tag is None or not isinstance(value, dict):
        return None
    for m in models:
        field = m.model_fields.get(tag)
        if field is not None and value.get(tag) in get_args(_unwrap(field.annotation)):
            return m
    return None


def _container(tp: Any) -> Any:
    """list / dict / tuple origin of a field's type (through Optional), or None."""
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            if arg is not type(None) and _container(arg) is not None:
                return _container(arg)
        return None
    return tp if origin in (list, dict, tuple) else None


def model_nodes(model: type[BaseModel], data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, type[BaseModel]]]:
    """(key path, model class) of every table in `data` that a model validates."""
    if not isinstance(data, dict):
        return
    yield loc, model
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is None:
            continue
        tp = field.annotation
        container = _container(tp)
        if container is not None and get_origin(container) is list:
            item = get_args(container)[0]
            for i, v in enumerate(value if isinstance(value, list) else []):
                m = _variant(item, v)
                if m is not None:
                    yield from model_nodes(m, v, loc + (name, i))
        elif container is not None and get_origin(container) is dict:
            item = get_args(container)[1]
            for k, v in (value.items() if isinstance(value, dict) else []):
                m = _variant(item, v)
                if m is not None:
                    yield from model_nodes(m, v, loc + (name, k))
        else:
            tag = field.discriminator if isinstance(field.discriminator, str) else None
            m = _variant(tp, value, tag)
            if m is not None:
                yield from model_nodes(m, value, loc + (name,))


def put(data: Any, loc: Loc, value: Any, inner: Loc = ()) -> None:
    """Set `value` at `loc`; with `inner` (the wrong part is an item of `value`), put that
    item into the list or table already there, keeping its other items."""
    node = data
    for part in loc[:-1]:
        node = node[part]
    there = node.get(loc[-1]) if isinstance(node, dict) else node[loc[-1]]
    if inner and isinstance(there, dict) and isinstance(value, dict):
        there.update(value)
    elif inner and isinstance(there, list) and isinstance(value, list) and there \
            and len(value) == 1:
        there[0] = value[0]
    else:
        node[loc[-1]] = value


# -- wrong values from a field's schema ------------------------------------------------------

def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0], defs)
    return node


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", type(None): "null", list: "array",
            dict: "object"}[type(value)]


def accepted(node: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """The JSON types a schema node takes ('number' takes integers too)."""
    node = _resolve(node, defs)
    out: set[str] = set()
    if "anyOf" in node or "oneOf" in node:
        for sub in node.get("anyOf", []) + node.get("oneOf", []):
            out |= accepted(sub, defs)
    elif "const" in node:
        out = {_type_of(node["const"])}
    elif "enum" in node:
        out = {_type_of(v) for v in node["enum"]}
    elif "type" in node:
        out = set(node["type"]) if isinstance(node["type"], list) else {node["type"]}
    elif "properties" in node:
        out = {"object"}
    else:
        out = set(JSON_TYPES)   # Any
    if "number" in out:
        out.add("integer")
    return out


def _sample(node: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value of a type the node takes (its constraints aside), for the other items of a
    fixed-length list."""
    node = _resolve(node, defs)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    return {"integer": 1, "number": 1.5, "string": "a", "boolean": True, "null": None,
            "array": [], "object": {}}[sorted(accepted(node, defs))[0]]


# Named functions, not lambdas: hypothesis describes a lambda by compiling its source,
# which made these tests five times slower.
def _fraction(i: int) -> float:
    return i + 0.5


def _fraction_text(i: int) -> str:
    return f"{i}.5"


def _at_top(v: Any) -> tuple[Any, Loc]:
    return v, ()


def _as_item(w: tuple[Any, Loc]) -> tuple[Any, Loc]:
    return [w[0]], (0,) + w[1]


def _as_first(rest: list[Any], w: tuple[Any, Loc]) -> tuple[Any, Loc]:
    return [w[0], *rest], (0,) + w[1]


def _as_value(key: str, w: tuple[Any, Loc]) -> tuple[Any, Loc]:
    return {key: w[0]}, (key,) + w[1]


def _named(name: str, w: tuple[Any, Loc]) -> tuple[str, Any, Loc]:
    return name, w[0], w[1]


def wrong_values(node: dict[str, Any], defs: dict[str, Any], *, whole_floats: bool,
                 toml: bool) -> st.SearchStrategy[tuple[Any, Loc]]:
    """(a value the node refuses by its type, where in it the wrong part is).

    `whole_floats`: 3.0 for a whole number is wrong (a TOML file; JSON payloads take it
    as 3 on purpose). `toml`: TOML's dates and times are wrong where no date is taken.
    """
    node = _resolve(node, defs)
    ok = accepted(node, defs)
    options: list[st.SearchStrategy[Any]] = []
    if "integer" not in ok:
        options.append(st.integers(-10**9, 10**9))
    if "number" not in ok:
        options.append(st.integers(-10**6, 10**6).map(_fraction))
    if "integer" in ok and "number" not in ok and whole_floats:
        options.append(st.integers(-10**6, 10**6).map(float))
    if "string" not in ok:
        options.append(st.text(max_size=12))
        if "integer" in ok:
            options.append(st.integers(-10**6, 10**6).map(str))       # "5" for 5
        if "number" in ok:
            options.append(st.integers(-10**6, 10**6).map(_fraction_text))
        if "boolean" in ok:
            options.append(st.sampled_from(["true", "false", "True", "yes"]))
    if "boolean" not in ok:
        options.append(st.booleans())                                 # true for 1
    if "null" not in ok:
        options.append(st.none())
    if "array" not in ok:
        options.append(st.lists(st.integers(0, 9), max_size=3))
    if "object" not in ok:
        options.append(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), max_size=2))
    if toml:
        if node.get("format") != "date":
            options.append(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)))
        options.append(st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)))
        options.append(st.times())
    out: list[st.SearchStrategy[tuple[Any, Loc]]] = [st.one_of(options).map(_at_top)]
    for sub in ([node] + node.get("anyOf", []) + node.get("oneOf", [])):
        sub = _resolve(sub, defs)
        items = sub.get("items")
        if isinstance(items, dict) and accepted(items, defs) != JSON_TYPES:
            out.append(wrong_values(items, defs, whole_floats=whole_floats, toml=toml)
                       .map(_as_item))
        prefix = sub.get("prefixItems")
        if prefix:
            rest = [_sample(p, defs) for p in prefix[1:]]
            out.append(wrong_values(prefix[0], defs, whole_floats=whole_floats, toml=toml)
                       .map(functools.partial(_as_first, rest)))
        values = sub.get("additionalProperties")
        if isinstance(values, dict) and accepted(values, defs) != JSON_TYPES:
            names = _resolve(sub.get("propertyNames", {}), defs)
            key = names["enum"][0] if "enum" in names else "1"   # "1": a text or number key
            out.append(wrong_values(values, defs, whole_floats=whole_floats, toml=toml)
                       .map(functools.partial(_as_value, key)))
    return st.one_of(out)


def field_schemas(model: type[BaseModel]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Field name -> its schema node, and the $defs they refer to."""
    schema = model.model_json_schema()
    props = schema.get("properties", {})
    missing = set(model.model_fields) - set(props)
    assert not missing, f"{model.__name__}: fields without a schema: {missing}"
    return {name: props[name] for name in model.model_fields}, schema.get("$defs", {})


def wrong_for_every_field(model: type[BaseModel]) -> Iterator[tuple[str, Any]]:
    """The `true`-for-a-number check of every field: true where no boolean is taken, 1
    where one is ('true' text too), as plain values without hypothesis."""
    props, defs = field_schemas(model)
    for name, node in props.items():
        ok = accepted(node, defs)
        if "boolean" in ok:
            if "integer" not in ok:
                yield name, 1
            if "string" not in ok:
                yield name, "true"
        else:
            yield name, True


@functools.lru_cache(maxsize=None)
def wrong_field_values(model: type[BaseModel], *, whole_floats: bool, toml: bool
                       ) -> st.SearchStrategy[tuple[str, Any, Loc]]:
    """(field name, wrong value, where in it the wrong part is) for any field of `model`;
    built once per model (building strategies is what costs time)."""
    props, defs = field_schemas(model)
    return st.one_of([
        wrong_values(node, defs, whole_floats=whole_floats, toml=toml)
        .map(functools.partial(_named, name))
        for name, node in sorted(props.items())])
