"""The Situational Center's config refuses a wrong type in every field of every model it
holds, naming the key path (the fields come from the models: tests/wrong_types.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edge.central.web.config import CentralWebConfig
from tests.wrong_types import model_nodes, put, reachable_models, wrong_for_every_field

VALID: dict[str, Any] = {
    "web": {"bind": "127.0.0.1", "port": 8480, "sessions": "s.db", "idle_min": 60,
            "silent_after_s": 180, "refresh_s": 2.0, "max_clients": 10},
    "standards": {"auto": {"visit_sla_min": 120, "max_wait_min": 30, "max_service_min": 20}},
    "sites": {"ast-01": {"name": "Астана", "region": "Астана"}},
    "services": {"docs": {"kk": "Құжаттар", "ru": "Документы", "en": "Documents"}},
}
NODES = list(model_nodes(CentralWebConfig, VALID))


def test_the_example_holds_every_model() -> None:
    assert {m for _, m in NODES} == reachable_models(CentralWebConfig)
    CentralWebConfig.model_validate(VALID)


@pytest.mark.parametrize("loc,model", NODES, ids=[".".join(map(str, loc)) or "root"
                                                  for loc, _ in NODES])
def test_every_field_refuses_a_wrong_type(loc: tuple[Any, ...], model: Any) -> None:
    from pydantic import ValidationError
    for name, wrong in wrong_for_every_field(model):
        doc = copy.deepcopy(VALID)
        put(doc, (*loc, name), wrong)
        with pytest.raises(ValidationError) as e:
            CentralWebConfig.model_validate(doc)
        paths = {tuple(err["loc"][:len(loc) + 1]) for err in e.value.errors()}
        assert (*loc, name) in paths, (loc, name, wrong, e.value.errors())
