"""The validated config as the queue engine's domain objects: services, windows, policies.

The engine is pure and never reads the config (nor the IIN secret file): the service
builds these once at start, and a reload (SIGHUP, central's cfg) hands them over in a
`Reconfigure` made by `reconfigure()`.
"""

from __future__ import annotations

from edge.config.model import AppConfig
from edge.errors import ConfigError
from edge.queue.commands import Reconfigure
from edge.queue.model import Service, Window, WindowState
from edge.queue.policies import BookingRules, HoursPeriod, Policies, Schedule, ServiceRules


def domain_from_config(config: AppConfig, *, read_secret: bool = True
                       ) -> tuple[list[Service], list[Window], Policies]:
    """Services, windows and policies of an AppConfig, as the engine's domain objects."""
    services = [Service(id=s.id, names=s.names.as_dict(), prefix=s.prefix, range_start=s.range[0],
                        range_end=s.range[1], avg_minutes=s.avg_minutes) for s in config.services]
    windows = [Window(number=w.number, label=w.label or str(w.number), weights=dict(w.services),
                      benefit=w.benefit,
                      state=WindowState.OPEN if w.open_at_start else WindowState.CLOSED)
               for w in config.windows]
    return services, windows, policies_from_config(config, read_secret=read_secret)


def schedule_from_config(config: AppConfig) -> Schedule:
    """The center's working times: [policies] hours and closed_dates, and the [calendar]
    (closed days, a date's own hours, duty periods). The one reading of them: the engine's
    refusals, the capacity stop and every "opens at" answer use this."""
    pol, cal = config.policies, config.calendar
    hours: dict[str, tuple[tuple[int, int], ...]] | None = None if pol.hours is None else \
        {day: tuple(h.spans()) for day, h in pol.hours.items()}
    closed = {x.isoformat() for x in pol.closed_dates} | {x.isoformat() for x in cal.closed}
    return Schedule(hours, frozenset(closed),
                    days={d.date.isoformat(): tuple(d.spans()) for d in cal.days},
                    periods=tuple(HoursPeriod(p.start.isoformat(), p.end.isoformat(),
                                              {day: tuple(h.spans())
                                               for day, h in p.hours.items()})
                                  for p in cal.periods))


def policies_from_config(config: AppConfig, *, read_secret: bool = True) -> Policies:
    """The engine's Policies from [policies], [calendar] and [bookings]; reads the IIN
    secret if asked."""
    pol, bk = config.policies, config.bookings
    schedule = schedule_from_config(config)
    rules = {sid: ServiceRules(**sp.model_dump()) for sid, sp in pol.services.items()}
    booking_rules = BookingRules(early_ms=bk.early_min * 60_000, late_ms=bk.late_min * 60_000,
                                 late_action=bk.late_action, call_ahead_ms=bk.call_ahead_s * 1000,
                                 how_to_book={str(k): v for k, v in bk.how_to_book.items()})
    key = None
    if read_secret:
        try:
            key = bk.read_iin_secret()
        except OSError as e:
            raise ConfigError("bookings.iin_secret_file", [
                f"cannot read the IIN secret {bk.iin_secret_file}: {e.strerror}; create it "
                "(e.g. `openssl rand -hex 32 > FILE`, mode 0600) or remove the key"]) from None
        except ValueError as e:
            raise ConfigError("bookings", [str(e)]) from None
    return Policies(recall_limit=pol.recall_limit, rating_window_s=pol.rating_window_s,
                    recall_min_interval_s=pol.recall_min_interval_s,
                    no_show_after_s=pol.no_show_after_s,
                    no_show_return_min=pol.no_show_return_min, schedule=schedule,
                    capacity_stop=pol.capacity_stop, estimate_samples=pol.estimate_samples,
                    services=rules, bookings=booking_rules, site=config.center.site, iin_key=key,
                    mode=pol.mode, walk_in_categories=frozenset(pol.walk_in_categories),
                    slot_ms=pol.slot_minutes * 60_000)


def reconfigure(config: AppConfig, source: str = "system", *,
                from_file: bool = False) -> Reconfigure:
    """The command that applies `config`'s services, windows and policies to the engine.

    The IIN secret is not read here: it is read once at start (file / credential /
    environment), and the engine keeps the one it has. The whole config travels along,
    untouched by the engine: once committed it is the running configuration that every
    component reads (edge/control.py). `from_file`: it is the config file as reloaded
    (SIGHUP), which central's next cfg is then merged over.
    """
    services, windows, policies = domain_from_config(config, read_secret=False)
    return Reconfigure(config=config, services=tuple(services), windows=tuple(windows),
                       policies=policies, source=source,
                       file_config=config if from_file else None)
