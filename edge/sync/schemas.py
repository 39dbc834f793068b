"""Writing and checking docs/schemas/*.json from the protocol's pydantic models.

Regenerate with `kezek central schemas` (or `python -m edge.sync.schemas`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edge.sync.protocol import json_schemas


def _render() -> dict[str, str]:
    return {f"{name}.json": json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
            for name, schema in json_schemas().items()}


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in _render().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_schemas(out: Path) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    stale = []
    for name, text in _render().items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/schemas")
    for p in write_schemas(target):
        print(p)
