"""What scripts/install.sh asks of Python: the sound output, the [announce] wiring, the hall URL.

The config is edited as text, table by table and line by line, so the center's comments
and order stay; the result is parsed again and must hold exactly the values set, else
nothing is written and the message says which line to edit by hand.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CARDS = Path("/proc/asound/cards")
HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\" -]+?)\s*\]\]?\s*(#.*)?$")


class SetupError(ValueError):
    pass


# -- the sound output -------------------------------------------------------------------------

def sound_cards(cards: Path = CARDS) -> list[tuple[str, str]]:
    """(id, description) of each ALSA card, from /proc/asound/cards."""
    try:
        text = cards.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        m = re.match(r"^\s*\d+\s+\[(\S+)\s*\]:\s*(.*)$", line)
        if m:
            found.append((m.group(1), m.group(2).strip()))
    return found


def audio_device(choice: str, cards: list[tuple[str, str]] | None) -> str:
    """The ALSA device for `--audio hdmi|jack|DEVICE`; `cards` None: an image, not checked.

    The Pi's cards are vc4hdmi0/vc4hdmi1 (HDMI) and Headphones (the 3.5 mm jack); their
    `default:CARD=` device converts the clips' format as each card needs.
    """
    listing = ", ".join(f"{i} ({d})" for i, d in cards or []) or "none"
    if choice in ("hdmi", "jack"):
        if cards is None:
            return "default:CARD=vc4hdmi0" if choice == "hdmi" else "default:CARD=Headphones"
        if choice == "hdmi":
            matches = [i for i, d in cards if "hdmi" in i.lower() or "hdmi" in d.lower()]
        else:
            matches = [i for i, d in cards if i == "Headphones" or "headphone" in d.lower()
                       or "analog" in d.lower()]
        if not matches:
            raise SetupError(f"--audio {choice}: no {choice.upper() if choice == 'hdmi' else 'headphone jack'} "
                             f"sound card on this box (cards: {listing}). On a Pi: "
                             "dtparam=audio=on in /boot/firmware/config.txt and a reboot; for HDMI "
                             "the TV must be connected at boot. Or name a device: --audio "
                             "plughw:CARD=<id> (aplay -l lists them)")
        return f"default:CARD={sorted(matches)[0]}"
    if not re.match(r"^[A-Za-z0-9_:,.=-]{1,64}$", choice):
        raise SetupError(f"--audio {choice!r}: an ALSA device name such as plughw:CARD=Device "
                         "(aplay -L lists them), or hdmi, or jack")
    if choice in ("default", "null") or cards is None:
        return choice
    m = re.search(r"CARD=([^,]+)", choice)
    if m and m.group(1) not in {i for i, _ in cards}:
        raise SetupError(f"--audio {choice}: no card {m.group(1)!r} here (cards: {listing})")
    return choice


# -- editing the config ---------------------------------------------------------------------------

def _table_span(lines: list[str], table: str) -> tuple[int, int] | None:
    """(header index, end index) of `[table]`; None when it has no header."""
    start = None
    for i, line in enumerate(lines):
        m = HEADER.match(line)
        if not m:
            continue
        if start is not None:
            return start, i
        if line.strip().startswith("[") and not line.strip().startswith("[[") \
                and m.group(1).strip() == table:
            start = i
    return (start, len(lines)) if start is not None else None


def set_keys(text: str, table: str, values: dict[str, str], comment: str) -> str:
    """Set `key = <TOML value>` lines in `[table]` (added at the end when missing)."""
    lines = text.splitlines()
    span = _table_span(lines, table)
    if span is None:
        block = ["", f"# {comment}", f"[{table}]"] + [f"{k} = {v}" for k, v in values.items()]
        new = "\n".join(lines + block) + "\n"
    else:
        start, end = span
        body = lines[start + 1:end]
        for key, value in values.items():
            pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
            hit = next((i for i, line in enumerate(body) if pattern.match(line)), None)
            if hit is None:
                body.insert(0, f"{key} = {value}")
            else:
                body[hit] = f"{key} = {value}"
        new = "\n".join(lines[:start + 1] + body + lines[end:]) + "\n"
    try:
        parsed = tomllib.loads(new)
    except tomllib.TOMLDecodeError as e:
        raise SetupError(f"could not set {', '.join(values)} in [{table}] ({e}): the file sets "
                         "it in a way this step does not edit (a value over several lines, a "
                         f"[{table}.<key>] table); set it by hand") from None
    got = parsed.get(table, {})
    for key, value in values.items():
        if got.get(key) != tomllib.loads(f"v = {value}")["v"]:
            raise SetupError(f"could not set [{table}] {key}: it is also set elsewhere (a "
                             f"[{table}.{key}] table?); set it by hand")
    return new


@dataclass
class Wiring:
    text: str
    said: list[str]
    clips_wanted: bool


def wire_announce(text: str, clips: Path, device: str | None, languages: list[str]) -> Wiring:
    """Point [announce] at the clip set install.sh makes, and the output at `device`.

    A config that turns announcements off (enabled = false) is left alone; one that names
    its own clip folders keeps them (the center's recorded voices)."""
    data: dict[str, Any] = tomllib.loads(text)
    announce = data.get("announce")
    quote = lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'  # noqa: E731
    langs = [x for x in languages if x in ("kk", "ru", "en")] or ["kk", "ru"]
    output = f'{{ type = "alsa", device = {quote(device or "default")} }}'
    if announce is None:
        folders = ", ".join(f"{lang} = {quote(str(clips / lang))}" for lang in langs)
        new = set_keys(text, "announce", {
            "enabled": "true", "languages": "[" + ", ".join(quote(x) for x in langs) + "]",
            "chime": quote(str(clips / "chime.wav")), "folders": f"{{ {folders} }}",
            "output": output}, "Added by scripts/install.sh: calls spoken from the clip set it "
                               "made (docs/announce.md).")
        return Wiring(new, [f"announce: calls spoken from {clips}, output {device or 'default'}"],
                      True)
    if not announce.get("enabled", False):
        return Wiring(text, ["announce: off in the config (announce.enabled = false): no voice"],
                      False)
    said = []
    values: dict[str, str] = {}
    if not announce.get("folders"):
        folders = ", ".join(f"{lang} = {quote(str(clips / lang))}" for lang in langs)
        values["folders"] = f"{{ {folders} }}"
        values["chime"] = quote(str(clips / "chime.wav"))
        said.append(f"announce: clip folders set to {clips}")
    current = announce.get("output") or {}
    if device is not None and (current.get("type", "alsa") != "alsa"
                               or current.get("device", "default") != device):
        values["output"] = output
        said.append(f"announce: output set to ALSA device {device}")
    new = set_keys(text, "announce", values, "") if values else text
    wanted = any(str(p).startswith(str(clips)) for p in (announce.get("folders") or {}).values()) \
        or "folders" in values
    return Wiring(new, said or ["announce: kept as the config has it"], wanted)


def hall_url(config: Any) -> str | None:
    hall = config.hall
    if not hall.enabled:
        return None
    host = "127.0.0.1" if hall.bind in ("0.0.0.0", "::", "") else hall.bind
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{hall.port}/"
