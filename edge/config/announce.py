"""Configuration of spoken announcements from pre-recorded clips."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel
from edge.strict import PathText
from edge.config.center import Lang

# A phrase is a list of tokens; each token names one clip (or a family of clips).
Token = Annotated[str, Field(
    pattern=r"^(ticket|letter|number|window|window_number|word:[a-z0-9_]{1,32})$",
    description="ticket | letter | number | window | window_number | word:<name> "
                "(plays <name>.wav from the language's folder)")]

DEFAULT_PHRASE: tuple[str, ...] = ("ticket", "letter", "number", "window", "window_number")


class AlsaOutput(StrictModel):
    """Play through ALSA with `aplay` (package alsa-utils)."""

    type: Literal["alsa"] = "alsa"
    device: str = Field(default="default", pattern=r"^[A-Za-z0-9_:,.=-]{1,64}$",
                        description="ALSA PCM name for `aplay -D`, e.g. 'default', "
                                    "'plughw:CARD=Headphones', 'null'")
    timeout_s: float = Field(default=60.0, ge=1.0, le=600.0,
                             description="longest one announcement may play before it is "
                                         "stopped and the speaker reported faulty")


class CommandOutput(StrictModel):
    """Play with any command: argv gets the WAV path where it says {file}, else on stdin."""

    type: Literal["command"]
    argv: list[str] = Field(min_length=1, description="e.g. ['paplay', '{file}']")
    timeout_s: float = Field(default=60.0, ge=1.0, le=600.0,
                             description="longest one announcement may play")


class FileOutput(StrictModel):
    """Write each rendered announcement as a WAV file (demo without a speaker, tests)."""

    type: Literal["file"]
    dir: PathText = Field(description="folder for the WAV files (created if missing)")
    keep: int = Field(default=20, ge=1, le=10000, description="newest files kept")


class FakeOutput(StrictModel):
    """Keep rendered announcements in memory only (tests)."""

    type: Literal["fake"]


OutputConfig = Annotated[Union[AlsaOutput, CommandOutput, FileOutput, FakeOutput],
                         Field(discriminator="type")]


class AnnounceConfig(StrictModel):
    """A chime, then "ticket A 42, window 5" from recorded clips, in each language in turn."""

    enabled: bool = Field(default=False, description="speak calls in the hall")
    languages: list[Lang] = Field(default=["kk", "ru"], min_length=1, max_length=3,
                                  description="languages spoken, in order")
    folders: dict[Lang, PathText] = Field(
        default_factory=dict,
        description="language -> folder of its clips (see docs/announce.md for the names; "
                    "`kezek clips --out DIR` makes a first set)")
    chime: PathText | None = Field(default=None,
                               description="WAV played before each announcement; none if unset")
    phrase: dict[Lang, list[Token]] = Field(
        default_factory=dict,
        description="language -> clip order; default "
                    "[ticket, letter, number, window, window_number]")
    recalls: bool = Field(default=True, description="announce recalls too")
    word_gap_ms: int = Field(default=60, ge=0, le=2000, description="silence between clips")
    language_gap_ms: int = Field(default=500, ge=0, le=5000,
                                 description="silence between two languages")
    chime_gap_ms: int = Field(default=250, ge=0, le=5000,
                              description="silence after the chime")
    queue_max: int = Field(default=10, ge=1, le=100,
                           description="most announcements waiting; beyond it the oldest "
                                       "is dropped (its call is still on the hall page)")
    max_age_s: float = Field(default=60.0, ge=5.0, le=600.0,
                             description="an announcement that waited longer is skipped: a "
                                         "call spoken minutes late confuses the hall")
    output: OutputConfig = Field(default_factory=AlsaOutput,
                                 description="where the sound goes: alsa, command, file, fake")
    generate_missing: bool = Field(
        default=False,
        description="when the clip folders cannot be used at start, make a clip set with "
                    "espeak-ng in <state dir>/clips and speak from it (config/demo.toml: "
                    "the demo speaks out of the box); a center records its clips instead")

    @field_validator("languages")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"a language is listed twice: {v}")
        return v

    @model_validator(mode="after")
    def _folders_for_languages(self) -> "AnnounceConfig":
        if self.enabled:
            missing = [lang for lang in self.languages if lang not in self.folders]
            if missing:
                raise ValueError(
                    f"announce.folders: no clip folder for {', '.join(missing)}; add e.g. "
                    f"folders.{missing[0]} = \"/var/lib/kezek/clips/{missing[0]}\" "
                    f"(make a first set with `kezek clips --out /var/lib/kezek/clips`)")
        return self

    def phrase_for(self, lang: str) -> tuple[str, ...]:
        return tuple(self.phrase.get(lang) or DEFAULT_PHRASE)
