"""`kezek clips`: make a first announcement clip set offline with espeak-ng."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser(
        "clips", help="make announcement clips offline with espeak-ng",
        description="Write DIR/chime.wav and DIR/<lang>/*.wav (numbers, letters, 'ticket', "
                    "'window') with espeak-ng, plus DIR/<lang>/clips.txt: the script for "
                    "recording real voices later. Existing files are kept unless --force. "
                    "Then set [announce] folders.<lang> = \"DIR/<lang>\" and "
                    "chime = \"DIR/chime.wav\".")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="clip set folder")
    p.add_argument("--lang", default="kk,ru", help="languages, comma-separated (default kk,ru)")
    p.add_argument("--voice", action="append", default=[], metavar="LANG=VOICE",
                   help="espeak-ng voice for a language, e.g. kk=ru if your espeak-ng "
                        "has no Kazakh voice (default: the language code)")
    p.add_argument("--speed", type=int, default=150, help="words per minute (default 150)")
    p.add_argument("--force", action="store_true", help="overwrite existing clips")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from edge.announce.generate import GenerateError, generate

    langs = [x.strip() for x in args.lang.split(",") if x.strip()]
    bad = [x for x in langs if x not in ("kk", "ru", "en")]
    if not langs or bad:
        print(f"kezek clips: --lang takes kk, ru, en (got {args.lang!r})", file=sys.stderr)
        return 2
    voices: dict[str, str] = {}
    for item in args.voice:
        lang, sep, voice = item.partition("=")
        if not sep or not voice:
            print(f"kezek clips: --voice takes LANG=VOICE, e.g. kk=ru (got {item!r})",
                  file=sys.stderr)
            return 2
        voices[lang.strip()] = voice.strip()
    if not 80 <= args.speed <= 400:
        print("kezek clips: --speed must be 80-400 words per minute", file=sys.stderr)
        return 2
    try:
        result = generate(args.out, langs, voices=voices, speed=args.speed, force=args.force)
    except (GenerateError, OSError) as e:
        print(f"kezek clips: {e}", file=sys.stderr)
        return 1
    out = args.out
    print(f"wrote {len(result.written)} clips, kept {len(result.kept)} existing, in {out}")
    print("voices: " + ", ".join(f"{k}={v}" for k, v in result.voices.items()))
    print("config:\n  [announce]\n  enabled = true\n"
          f"  languages = [{', '.join(repr(x).replace(chr(39), chr(34)) for x in langs)}]\n"
          f"  chime = \"{out / 'chime.wav'}\"\n  [announce.folders]")
    for lang in langs:
        print(f"  {lang} = \"{out / lang}\"")
    return 0
