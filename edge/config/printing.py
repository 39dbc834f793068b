"""Configuration of ticket printers and the ticket layout (owned by the printing work)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config.base import StrictModel


class FilePrinterConfig(StrictModel):
    type: Literal["file"] = "file"
    path: Path = Field(description="file the ESC/POS bytes are appended to")


PrinterConfig = FilePrinterConfig


class TicketLayoutConfig(StrictModel):
    footer: str = Field(default="1414", description="last line of the ticket")
