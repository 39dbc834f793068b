"""What central sends the edge: the configuration it manages, bookings, and commands."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field

from edge.sync.protocol.wire import Version, Wire


class Downlink(Wire):
    """Base of what central sends to the edge: types are taken as they are (strict, as
    every Wire message), so a `true` is not window 1 and `"5"` is not version 5; the
    error names the field."""


class CentralSections(Wire):
    """The parts of the edge config that central manages; the rest stays local."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    services: list[dict[str, Any]] | None = Field(
        default=None, description="replaces [[services]] (same keys as the TOML file)")
    windows: list[dict[str, Any]] | None = Field(
        default=None, description="replaces [[windows]] (same keys as the TOML file)")
    policies: dict[str, Any] | None = Field(
        default=None, description="replaces [policies] (same keys as the TOML file)")
    calendar: dict[str, Any] | None = Field(
        default=None, description="replaces [calendar]: closed days, shortened days, duty "
                                  "hours (same keys as the TOML file)")
    operators: list[dict[str, Any]] | None = Field(
        default=None, max_length=500,
        description="replaces [[operators]]: who signs in at the panel, with PIN hashes "
                    "(same keys as the TOML file)")


class CfgMessage(Downlink):
    """`.../cfg`, retained, QoS 1: a versioned configuration snapshot; newest wins."""

    v: Version = Field(description="protocol version")
    version: int = Field(ge=1, description="grows with every change; lower or equal is ignored")
    config: CentralSections


class BookingsMessage(Downlink):
    """`.../bookings`, retained, QoS 1: a versioned bookings snapshot; newest wins."""

    v: Version = Field(description="protocol version")
    version: int = Field(ge=1, description="grows with every change; lower or equal is ignored")
    bookings: list[dict[str, Any]] = Field(max_length=20_000,
                                           description="bookings, see docs/bookings.md")


class WindowArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    window: int = Field(ge=1, le=999, description="window number")


class ReprintArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    label: str = Field(pattern=r"^[A-Z]-\d{3,4}$", description="ticket label, e.g. A-001")
    printer: str | None = Field(default=None, max_length=64)


class AnnounceArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    text: str = Field(min_length=1, max_length=500)
    lang: Literal["kk", "ru", "en"] | None = None


class ResendArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    from_seq: int = Field(ge=1, description="resend from this seq (not below the last ack)")


class NoArgs(Downlink):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _CmdBase(Downlink):
    v: Version = Field(description="protocol version")
    cmd_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$",
                        description="unique id; a command runs at most once per cmd_id")
    ts: int = Field(description="when central issued it, UTC ms")
    ttl_s: int = Field(ge=1, le=7 * 86400, description="expires ts + ttl_s; also sent as the "
                                                       "MQTT message expiry interval")


class OpenWindowCmd(_CmdBase):
    name: Literal["open_window"]
    args: WindowArgs


class CloseWindowCmd(_CmdBase):
    name: Literal["close_window"]
    args: WindowArgs


class PauseWindowCmd(_CmdBase):
    name: Literal["pause_window"]
    args: WindowArgs


class ResumeWindowCmd(_CmdBase):
    name: Literal["resume_window"]
    args: WindowArgs


class ReprintCmd(_CmdBase):
    name: Literal["reprint"]
    args: ReprintArgs


class AnnounceCmd(_CmdBase):
    name: Literal["announce"]
    args: AnnounceArgs


class ResendCmd(_CmdBase):
    name: Literal["resend"]
    args: ResendArgs


class ReloadConfigCmd(_CmdBase):
    name: Literal["reload_config"]
    args: NoArgs = NoArgs()


Command = Annotated[Union[OpenWindowCmd, CloseWindowCmd, PauseWindowCmd, ResumeWindowCmd,
                          ReprintCmd, AnnounceCmd, ResendCmd, ReloadConfigCmd],
                    Field(discriminator="name")]


class CmdMessage(Wire):
    """`.../cmd`, QoS 1, not retained: one command."""

    command: Command

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "CmdMessage":
        return cls.model_validate({"command": data})
