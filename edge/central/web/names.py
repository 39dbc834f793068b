"""How services and centers are named on the staff's screens and in their CSVs: the web
config's `[services.<id>]` (kk, ru, en) and `[sites.<id>]` names, else the id.

The screens get the names once (/api/names) and pick the signed-in person's language
themselves, so a language switch renames at once without asking the server; a CSV names
each service in the language of whoever downloads it, beside the id it keeps.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from edge.central.web.config import CentralWebConfig


def names_json(cfg: CentralWebConfig) -> dict[str, Any]:
    """{"services": {id: {lang: name}}, "sites": {id: name}}: only the names configured."""
    return {"services": {sid: {k: v for k, v in n.model_dump().items() if v}
                         for sid, n in cfg.services.items()},
            "sites": {sid: s.name for sid, s in cfg.sites.items() if s.name}}


def service_name(cfg: CentralWebConfig, service: str, lang: str) -> str:
    """The name in `lang`; English falls back to Russian (English is optional); else the id."""
    n = cfg.services.get(service)
    if n is None:
        return service
    return str(getattr(n, lang, "") or n.ru or service)


def with_service_names(text: str, cfg: CentralWebConfig, lang: str) -> str:
    """A center's CSV (edge/central/web/center.py operators_csv) with a `name` column after
    `key`: the service's name for the service rows, the operator as it is for theirs."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "key" not in rows[0] or "by" not in rows[0]:
        return text
    by, key = rows[0].index("by"), rows[0].index("key")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([*rows[0][:key + 1], "name", *rows[0][key + 1:]])
    for r in rows[1:]:
        name = service_name(cfg, r[key], lang) if r[by] == "service" else r[key]
        w.writerow([*r[:key + 1], name, *r[key + 1:]])
    return out.getvalue()
