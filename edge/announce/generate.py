"""Make a first clip set offline: espeak-ng speaks each word, a sine chime is generated.

The texts are also written to <lang>/clips.txt: the script for whoever records real clips.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import sys
import tempfile
import wave
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from edge.announce.chime import chime_wav
from edge.announce.phrase import CHIME, TICKET, WINDOW, all_number_clips, letter_clip

logger = logging.getLogger(__name__)

_KK_NUMBERS = {
    0: "нөл", 1: "бір", 2: "екі", 3: "үш", 4: "төрт", 5: "бес", 6: "алты", 7: "жеті",
    8: "сегіз", 9: "тоғыз", 10: "он", 20: "жиырма", 30: "отыз", 40: "қырық", 50: "елу",
    60: "алпыс", 70: "жетпіс", 80: "сексен", 90: "тоқсан", 100: "жүз", 1000: "мың",
}
_RU_NUMBERS = {
    0: "ноль", 1: "один", 2: "два", 3: "три", 4: "четыре", 5: "пять", 6: "шесть",
    7: "семь", 8: "восемь", 9: "девять", 10: "десять", 11: "одиннадцать",
    12: "двенадцать", 13: "тринадцать", 14: "четырнадцать", 15: "пятнадцать",
    16: "шестнадцать", 17: "семнадцать", 18: "восемнадцать", 19: "девятнадцать",
    20: "двадцать", 30: "тридцать", 40: "сорок", 50: "пятьдесят", 60: "шестьдесят",
    70: "семьдесят", 80: "восемьдесят", 90: "девяносто", 100: "сто", 200: "двести",
    300: "триста", 400: "четыреста", 500: "пятьсот", 600: "шестьсот", 700: "семьсот",
    800: "восемьсот", 900: "девятьсот", 1000: "тысяча", 2000: "две тысячи",
    3000: "три тысячи", 4000: "четыре тысячи",
}
# How Latin ticket letters are read aloud in Kazakh and Russian speech.
_LETTERS_CYR = {
    "A": "а", "B": "бэ", "C": "цэ", "D": "дэ", "E": "е", "F": "эф", "G": "гэ", "H": "аш",
    "I": "и", "J": "жи", "K": "ка", "L": "эль", "M": "эм", "N": "эн", "O": "о", "P": "пэ",
    "Q": "ку", "R": "эр", "S": "эс", "T": "тэ", "U": "у", "V": "вэ", "W": "дубль вэ",
    "X": "икс", "Y": "игрек", "Z": "зэт",
}
WORDS = {
    "kk": {TICKET: "талон", WINDOW: "терезе"},
    "ru": {TICKET: "талон", WINDOW: "окно"},
    "en": {TICKET: "ticket", WINDOW: "window"},
}


def _kk_number(n: int) -> str:
    if n in _KK_NUMBERS:
        return _KK_NUMBERS[n]
    if n < 20:
        return f"он {_KK_NUMBERS[n - 10]}"
    if n < 1000:
        return f"{_KK_NUMBERS[n // 100]} жүз"
    return f"{_KK_NUMBERS[n // 1000]} мың"


def _ru_number(n: int) -> str:
    return _RU_NUMBERS.get(n) or f"{_RU_NUMBERS[n // 1000]} тысяч"


def clip_texts(lang: str) -> dict[str, str]:
    """Clip name -> the text to speak, for every clip a language can need."""
    if lang not in WORDS:
        raise ValueError(f"no word list for language {lang!r}; known: {', '.join(WORDS)}")
    texts = dict(WORDS[lang])
    for n in all_number_clips():
        if lang == "kk":
            texts[str(n)] = _kk_number(n)
        elif lang == "ru":
            texts[str(n)] = _ru_number(n)
        else:
            texts[str(n)] = str(n)  # espeak-ng reads digits in English itself
    for letter, cyr in _LETTERS_CYR.items():
        texts[letter_clip(letter)] = letter if lang == "en" else cyr
    return texts


@dataclass
class GenerateResult:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    voices: dict[str, str] = field(default_factory=dict)


class GenerateError(Exception):
    """espeak-ng is missing, lacks a voice, or produced something unusable."""


def espeak_voices(espeak: str) -> set[str]:
    try:
        out = subprocess.run([espeak, "--voices"], capture_output=True, text=True,
                             timeout=20, check=True).stdout
    except FileNotFoundError:
        raise GenerateError(f"{espeak} not found: install it with `apt-get install espeak-ng`") from None
    except (subprocess.SubprocessError, OSError) as e:
        raise GenerateError(f"{espeak} --voices failed: {e}") from None
    voices = set()
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 2:
            voices.add(cols[1])
    return voices


def _speak(espeak: str, voice: str, speed: int, text: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="kezek-clips-") as tmp:
        out = Path(tmp) / "clip.wav"
        try:
            subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(out), text],
                           capture_output=True, timeout=30, check=True)
        except subprocess.CalledProcessError as e:
            raise GenerateError(f"espeak-ng failed on {text!r}: "
                                f"{e.stderr.decode('utf-8', 'replace').strip()}") from None
        except subprocess.TimeoutExpired:
            raise GenerateError(f"espeak-ng took over 30 s on {text!r}") from None
        return out.read_bytes()


def trim_silence(wav: bytes, threshold: int = 300, keep_ms: int = 15) -> bytes:
    """Cut the quiet start and end espeak-ng adds, so words follow each other naturally."""
    with wave.open(io.BytesIO(wav), "rb") as r:
        params = r.getparams()
        frames = r.readframes(r.getnframes())
    if params.sampwidth != 2 or params.nchannels != 1:
        return wav
    samples = array("h", frames)
    if sys.byteorder == "big":
        samples.byteswap()
    loud = [i for i, s in enumerate(samples) if abs(s) >= threshold]
    if not loud:
        return wav
    keep = params.framerate * keep_ms // 1000
    start, end = max(0, loud[0] - keep), min(len(samples), loud[-1] + keep + 1)
    cut = samples[start:end]
    if sys.byteorder == "big":
        cut.byteswap()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(params.framerate)
        w.writeframes(cut.tobytes())
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def generate(out: Path, langs: list[str], *, voices: dict[str, str] | None = None,
             speed: int = 150, force: bool = False, espeak: str = "espeak-ng",
             names: set[str] | None = None) -> GenerateResult:
    """Write out/chime.wav and out/<lang>/<clip>.wav; existing files are kept unless force.

    `names` limits the clips made (tests); None makes every clip.
    """
    if shutil.which(espeak) is None:
        raise GenerateError(f"{espeak} not found: install it with `apt-get install espeak-ng`")
    available = espeak_voices(espeak)
    chosen = {lang: (voices or {}).get(lang, lang) for lang in langs}
    for lang, voice in chosen.items():
        if voice not in available:
            fallback = " or pass --voice kk=ru (a Russian voice reading the Kazakh words: " \
                       "understandable, with an accent)" if lang == "kk" else ""
            raise GenerateError(f"espeak-ng has no voice {voice!r} for {lang}: upgrade "
                                f"espeak-ng-data{fallback}")
    result = GenerateResult(voices=chosen)
    rate: int | None = None
    for lang in langs:
        folder = out / lang
        folder.mkdir(parents=True, exist_ok=True)
        texts = clip_texts(lang)
        (folder / "clips.txt").write_text(
            "".join(f"{name}.wav\t{text}\n" for name, text in texts.items()), encoding="utf-8")
        for name, text in texts.items():
            if names is not None and name not in names:
                continue
            path = folder / f"{name}.wav"
            if path.exists() and not force:
                result.kept.append(path)
                continue
            wav = trim_silence(_speak(espeak, chosen[lang], speed, text))
            with wave.open(io.BytesIO(wav), "rb") as r:
                rate = rate or r.getframerate()
                if r.getframerate() != rate:
                    raise GenerateError(f"espeak-ng voice {chosen[lang]!r} speaks at "
                                        f"{r.getframerate()} Hz, others at {rate} Hz")
            _write(path, wav)
            result.written.append(path)
        logger.info("clips for %s in %s (voice %s)", lang, folder, chosen[lang])
    chime = out / f"{CHIME}.wav"
    if rate is None and result.kept:
        with wave.open(str(result.kept[0]), "rb") as r:
            rate = r.getframerate()  # match the clips kept from an earlier run
    if force or not chime.exists():
        _write(chime, chime_wav(rate or 22050))
        result.written.append(chime)
    else:
        result.kept.append(chime)
    return result
