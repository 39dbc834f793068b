"""`kezek box ...`: the steps of scripts/install.sh that need the config's own code."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("box", help="helpers of scripts/install.sh (sound output, announce "
                                   "wiring, the hall's address)")
    box = p.add_subparsers(dest="box_command", metavar="STEP")
    box.required = True

    a = box.add_parser("audio", help="the ALSA device for hdmi, jack or a device name, checked "
                                     "against this box's sound cards")
    a.add_argument("choice", help="hdmi, jack, or an ALSA device such as plughw:CARD=Device")
    a.add_argument("--no-check", action="store_true", help="an image: the cards are not here")
    a.add_argument("--cards", type=Path, default=Path("/proc/asound/cards"), help=argparse.SUPPRESS)
    a.set_defaults(func=_audio)

    w = box.add_parser("wire-announce", help="point [announce] at a clip set and a device")
    w.add_argument("config", type=Path)
    w.add_argument("--out", type=Path, required=True, help="where to write the wired config")
    w.add_argument("--clips", type=Path, default=Path("/var/lib/kezek/clips"))
    w.add_argument("--device", default=None, help="the ALSA device (from `kezek box audio`)")
    w.set_defaults(func=_wire)

    h = box.add_parser("hall-url", help="the hall page's address for the TV's browser")
    h.add_argument("config", type=Path)
    h.set_defaults(func=_hall)


def _audio(args: argparse.Namespace) -> int:
    from edge.system.boxsetup import SetupError, audio_device, sound_cards
    try:
        print(audio_device(args.choice, None if args.no_check else sound_cards(args.cards)))
    except SetupError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


def _wire(args: argparse.Namespace) -> int:
    import tomllib

    from edge.system.boxsetup import SetupError, wire_announce
    from edge.system.initconfig import problems_of
    text = args.config.read_text(encoding="utf-8")
    try:
        languages = tomllib.loads(text).get("center", {}).get("languages", ["kk", "ru"])
        wiring = wire_announce(text, args.clips, args.device, languages)
    except (SetupError, tomllib.TOMLDecodeError) as e:
        print(f"{args.config}: {e}", file=sys.stderr)
        return 1
    if wiring.text != text:
        problems = problems_of(wiring.text, str(args.config))
        if problems:
            print(f"{args.config}: wiring [announce] would make it invalid: "
                  + "; ".join(problems), file=sys.stderr)
            return 1
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(wiring.text, encoding="utf-8")
    os.replace(tmp, args.out)
    for line in wiring.said:
        print(line)
    print(f"clips: {'wanted' if wiring.clips_wanted else 'not used'}")
    return 0


def _hall(args: argparse.Namespace) -> int:
    from edge.config import load_config_or_report
    from edge.system.boxsetup import hall_url
    config = load_config_or_report(args.config)
    if config is None:
        return 1
    url = hall_url(config)
    if url is None:
        print(f"{args.config}: [hall] is not enabled: the TV would have nothing to show",
              file=sys.stderr)
        return 3
    print(url)
    return 0
