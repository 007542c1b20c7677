"""`ev notify prefs`: a member's notification preferences (what they hear about, by which
transports, their quiet hours), the same record the web app's bell page edits."""

from __future__ import annotations

import msgspec
import typer

from escapevelocity.cli.common import err, fail, open_workspace

notify_app = typer.Typer(help="Notifications: members' preferences.", no_args_is_help=True)


def _show(member: str, prefs) -> None:
    from escapevelocity.domain import notifications as dn

    heard = [k for k in dn.KINDS if k not in prefs.muted]
    quiet = f"{prefs.quiet_start}-{prefs.quiet_end}" if prefs.quiet_start else "none"
    err.print(f"{member}: hears {', '.join(heard) or 'nothing'}; muted "
              f"{', '.join(prefs.muted) or 'nothing'}; by {', '.join(prefs.transports)}; "
              f"quiet hours {quiet}{' ' + prefs.tz if prefs.tz else ''}; browser "
              f"{'on' if prefs.browser else 'off'}; own Slack webhook "
              f"{'set' if prefs.slack_url else 'none'}")


@notify_app.command("prefs")
def prefs_command(
    member: str = typer.Argument(..., help="member id"),
    mute: list[str] = typer.Option([], help="a kind to stop hearing about (repeat)"),
    unmute: list[str] = typer.Option([], help="a kind to hear about again (repeat)"),
    via: str = typer.Option("", help="transports, comma-separated: web,email,slack"),
    quiet: str = typer.Option("", help="quiet hours HH:MM-HH:MM ('-' clears them)"),
    tz: str = typer.Option("", help="time zone of the quiet hours (IANA name)"),
    database: str | None = typer.Option(None, help="database URL"),
) -> None:
    """Show a member's preferences; with options, change them first."""
    from escapevelocity.domain import notifications as dn

    ws = open_workspace(database)
    with ws.store.begin() as tx:
        if tx.org.member(member) is None:
            raise fail(f"no member {member!r}")
        current = tx.notifications.prefs(member)
    changes: dict = {}
    unknown = [k for k in (*mute, *unmute) if k not in dn.KINDS]
    if unknown:
        raise fail(f"unknown kind {', '.join(unknown)}; kinds: {', '.join(dn.KINDS)}")
    if mute or unmute:
        changes["muted"] = sorted((set(current.muted) | set(mute)) - set(unmute))
    if via:
        changes["transports"] = [t.strip() for t in via.split(",") if t.strip()]
        if dn.WEB not in changes["transports"]:
            changes["transports"].insert(0, dn.WEB)  # the bell is always there
    if quiet:
        start, _, end = ("", "", "") if quiet == "-" else quiet.partition("-")
        changes.update(quiet_start=start.strip(), quiet_end=end.strip())
    if tz:
        changes["tz"] = tz
    if changes:
        new = msgspec.structs.replace(current, **changes)
        try:
            dn.load_prefs(msgspec.json.encode(new))  # the one validation, as the web app's
        except (ValueError, msgspec.ValidationError) as exc:
            raise fail(str(exc)) from None
        with ws.store.begin() as tx:
            tx.notifications.save_prefs(member, new)
        current = new
    _show(member, current)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
