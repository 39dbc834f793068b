"""The tickets a printer owes a reprint of, kept in a small file across restarts.

A restarted worker must not take a pending reprint for a new, overdue ticket and void the
paper the visitor already holds (docs/printing.md, "Reprints").
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def load_reprints(path: Path | None, name: str) -> tuple[set[int], set[int]]:
    """(pending reprints, given-up reprints) from `path`; empty when there is none."""
    if path is None:
        return set(), set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        reprints = {int(t) for t in data.get("reprints", [])}
        return reprints, {int(t) for t in data.get("abandoned", [])} & reprints
    except FileNotFoundError:
        return set(), set()
    except (OSError, ValueError, TypeError, AttributeError) as e:
        logger.warning("%s: cannot read %s (%s): pending reprints from before the restart "
                       "are printed as new tickets", name, path, e)
        return set(), set()


def save_reprints(path: Path | None, reprints: set[int], abandoned: set[int], name: str) -> None:
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"reprints": sorted(reprints), "abandoned": sorted(abandoned)}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        logger.warning("%s: cannot save %s (%s): a restart may take a pending reprint "
                       "for a new ticket", name, path, e)
