"""The root of the configuration file: one section per part of the controller."""

from __future__ import annotations

from pydantic import Field, model_validator

from edge.config.base import StrictModel
from edge.config.center import (CenterConfig, ConsoleConfig, ServiceConfig, StorageConfig,
                                WindowConfig)
from edge.config.announce import AnnounceConfig
from edge.config.calendar import CalendarConfig
from edge.config.hall import HallConfig
from edge.config.crosscheck import cross_section_problems
from edge.config.boards import BoardsConfig
from edge.config.hardware import GpioConfig
from edge.config.kiosk import KioskConfig
from edge.config.panel import OperatorConfig, PanelConfig
from edge.config.policies import BookingsConfig, PoliciesConfig
from edge.config.printing import PrinterConfig, TicketLayoutConfig
from edge.config.sync import SyncConfig
from edge.config.system import SystemConfig


class CrossReferenceErrors(ValueError):
    """Several problems between sections; pydantic reports one ValueError per validator,
    so the list travels inside it and load_config lists each line on its own."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class AppConfig(StrictModel):
    center: CenterConfig
    services: list[ServiceConfig] = Field(min_length=1)
    windows: list[WindowConfig] = Field(min_length=1)
    storage: StorageConfig = StorageConfig()
    console: ConsoleConfig = ConsoleConfig()
    printers: dict[str, PrinterConfig] = Field(default_factory=dict)
    ticket: TicketLayoutConfig = TicketLayoutConfig()
    gpio: GpioConfig = GpioConfig()
    boards: BoardsConfig = BoardsConfig()
    hall: HallConfig = HallConfig()
    kiosk: KioskConfig = KioskConfig()
    panel: PanelConfig = PanelConfig()
    operators: list[OperatorConfig] = Field(default_factory=list, max_length=500)
    announce: AnnounceConfig = AnnounceConfig()
    policies: PoliciesConfig = PoliciesConfig()
    calendar: CalendarConfig = CalendarConfig()
    bookings: BookingsConfig = BookingsConfig()
    sync: SyncConfig = SyncConfig()
    system: SystemConfig = SystemConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> "AppConfig":
        # Every problem at once: an IT person fixing a file should not need a run per line.
        # The rules read plain data, so that load_config can also run them on a file whose
        # other keys have errors (edge/config/crosscheck.py); here: this valid config's data.
        problems = cross_section_problems(self.model_dump())
        if problems:
            raise CrossReferenceErrors(problems)
        return self

    def operator(self, operator_id: str) -> OperatorConfig | None:
        for o in self.operators:
            if o.id == operator_id:
                return o
        return None

    def service(self, service_id: str) -> ServiceConfig:
        for s in self.services:
            if s.id == service_id:
                return s
        raise KeyError(service_id)
