"""Operators at windows: sign-in and sign-out, and who may press a window's buttons.

Who is signed in at which window is queue state (Window.operator, stored with the window):
a restart keeps it, and every event at a window names its operator, whether the press came
from the operator's panel or from the window's keypad. A window has at most one operator;
an operator works at one window at a time (signing in elsewhere moves them).
"""

from __future__ import annotations

from edge.errors import CommandError
from edge.queue import commands as c
from edge.queue.engine.draft import Draft, Handler, in_config
from edge.queue.engine.state import Reply

# Commands that do not act at a window of their own, or that check the operator themselves.
_NOT_AT_A_WINDOW = (c.SignIn, c.SignOut, c.DeskView)


def check(d: Draft, cmd: c.Command) -> None:
    """Refuse a command that names an operator at a window where that operator is not
    signed in (a panel whose sign-in ended, another operator's window)."""
    op = cmd.operator
    number = getattr(cmd, "window", None)
    if op is None or not isinstance(number, int) or isinstance(cmd, _NOT_AT_A_WINDOW):
        return
    here = d.window(number).operator
    if here != op:
        who = f"operator {here} is signed in there" if here else "no one is signed in there"
        raise CommandError("not_signed_in", f"operator {op} is not signed in at window "
                           f"{number} ({who}); sign in at the window first")


def sign_in(d: Draft, cmd: c.SignIn) -> None:
    op = cmd.operator
    if not op:
        raise CommandError("no_operator", "sign-in needs the operator's id")
    w = in_config(d, cmd.window, "take an operator")
    if w.operator == op:
        d.out.reply = Reply(f"OPERATOR {op} already at window {w.number}")
        return
    if w.operator is not None:
        raise CommandError("window_taken", f"operator {w.operator} is signed in at window "
                           f"{w.number}; they sign out first (or a manager signs them out)")
    for other in sorted(d.e.state.windows):
        if other != w.number and d.window(other).operator == op:
            leave(d, other, "moved")
    d.put_window(w.with_(operator=op))
    d.emit("operator.signed_in", operator=op, window=w.number, reason="sign_in")
    d.out.reply = Reply(f"OPERATOR {op} signed in at window {w.number}")


def sign_out(d: Draft, cmd: c.SignOut) -> None:
    w = d.window(cmd.window)
    if w.operator is None:
        d.out.reply = Reply(f"WINDOW {w.number}: no operator signed in")
        return
    if cmd.operator is not None and cmd.operator != w.operator:
        raise CommandError("not_signed_in", f"operator {cmd.operator} is not signed in at "
                           f"window {w.number} (operator {w.operator} is)")
    op = w.operator
    leave(d, w.number, cmd.reason or "sign_out")
    d.out.reply = Reply(f"OPERATOR {op} signed out of window {w.number}")


def leave(d: Draft, number: int, reason: str) -> None:
    """The operator at window `number` (if any) is signed out, with `reason`."""
    w = d.window(number)
    if w.operator is None:
        return
    d.put_window(w.with_(operator=None))
    d.emit("operator.signed_out", operator=w.operator, window=number, reason=reason)


def day_end(d: Draft) -> None:
    """A new business day: everyone signed in yesterday is signed out (sessions end too)."""
    for number in sorted(d.e.state.windows):
        leave(d, number, "day_end")


HANDLERS: dict[type[c.Command], Handler] = {c.SignIn: sign_in, c.SignOut: sign_out}
