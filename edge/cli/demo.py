"""`kezek demo`: the demo center's config (config/demo.toml) and a throwaway state directory.

What is simulated is said by the config alone (a mock pin factory, a file printer, a
fake board bus, clips made with espeak-ng): `kezek run --config config/demo.toml` runs
the same center, with its state kept.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.config import AppConfig
    from edge.service import App

# A source checkout has config/ beside edge/; an installed box has it beside the venv
# (scripts/install.sh copies it to /opt/kezek/config, the venv being /opt/kezek/venv).
DEMO_CONFIGS = (Path(__file__).resolve().parents[2] / "config" / "demo.toml",
                Path(sys.prefix).parent / "config" / "demo.toml")


def demo_config() -> Path | None:
    return next((p for p in DEMO_CONFIGS if p.is_file()), None)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo center (simulated hardware, console input)")
    p.add_argument("--config", type=Path, default=None, help="another config (default: config/demo.toml)")
    p.add_argument("--keep", type=Path, default=None, help="keep state in this directory instead")
    p.add_argument("--hall-port", type=int, default=None, metavar="PORT",
                   help="the hall screen's port (default: hall.port, 8080; a free one when "
                        "that is taken)")
    p.set_defaults(func=handle)


def with_hall_port(config: "AppConfig", port: int | None) -> tuple["AppConfig", str | None]:
    """The config with the hall's port chosen, and a note for the user (or an error).

    --hall-port is taken as given: a port that cannot be opened is an error. The config's
    port, when another program holds it (a second demo, a web server on 8080), gives way
    to a free one: the demo is for trying, not for a TV that knows its address.
    """
    import errno

    from pydantic import ValidationError

    from edge.config.hall import HallConfig
    from edge.web.ports import listen_problem, try_listen

    hall = config.hall
    if not hall.enabled:
        return config, None
    if port is not None:
        try:
            hall = HallConfig.model_validate({**hall.model_dump(), "port": port})
        except ValidationError as e:
            why = e.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"kezek demo: --hall-port {port}: {why}") from None
        error = try_listen(hall.bind, hall.port) if hall.port else None
        if error is not None:
            problem, _ = listen_problem(hall.bind, hall.port, error)
            raise ValueError(f"kezek demo: --hall-port {port}: {problem.split(': ', 1)[1]}; "
                             "choose another, or leave --hall-port out to take a free one")
        note = None
    else:
        error = try_listen(hall.bind, hall.port) if hall.port else None
        if error is None or error.errno != errno.EADDRINUSE:
            return config, None   # anything else: the hall's alarm says it, the demo runs
        note = (f"port {hall.port} is taken by another program, so the hall screen takes a "
                "free one (or choose one with --hall-port PORT)")
        hall = hall.model_copy(update={"port": 0})   # the kernel picks; read back when ready
    return config.model_copy(update={"hall": hall}), note


def ready_line(app: "App", state: str) -> str:
    """What the demo says once its console answers: where the hall screen and the
    operator panel are."""
    where = ""
    for key, what in (("hall", "Hall screen"), ("panel", "Operator panel")):
        part: Any = app.ctx.components.get(key)
        if part is not None:
            health = part.health()
            where += (f" {what}: {health['url']}." if health["ok"] and health.get("url")
                      else f" {what}: not served ({health.get('error') or 'starting'}).")
    return (f"Kezek demo ready: {app.config.center.name.ru} — state in {state}.{where} "
            "Type 'help'.")


def handle(args: argparse.Namespace) -> int:
    from edge.announce.clip_cache import default_root
    from edge.config import load_config_or_report
    from edge.service import run_service
    from edge.system.logs import setup_logging
    setup_logging("warning", "plain")
    path = args.config or demo_config()
    if path is None:
        print("kezek demo: the demo config is not here (looked for "
              + " and ".join(str(p) for p in DEMO_CONFIGS)
              + "); run scripts/install.sh again, or give one with --config FILE", file=sys.stderr)
        return 1
    config = load_config_or_report(path)
    if config is None:
        return 1
    try:
        config, note = with_hall_port(config, args.hall_port)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    if note:
        print(f"Kezek demo: {note}.")
    print("Kezek demo: starting...", flush=True)

    def run(state_dir: Path) -> int:
        def ready(app: "App") -> None:
            print(ready_line(app, str(state_dir)), file=app.ctx.stdout, flush=True)
        return run_service(config, state_dir, config_path=path, cache_dir=default_root(),
                           on_ready=ready)

    if args.keep:
        return run(args.keep)
    with tempfile.TemporaryDirectory(prefix="kezek-demo-") as tmp:
        return run(Path(tmp))
