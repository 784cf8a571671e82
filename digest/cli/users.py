"""`digest users add|list|remove|password`: who may log in to the desk, and with which role.

digest users add NAME --role editor|operator   the password is asked for (or read from
                                               standard input with --password-stdin)
digest users password NAME                     set a new one (older sessions end)
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from digest.cli.common import ConfigOption, HomeOption, open_workspace, out
from digest.errors import UsageError

__all__ = ["register", "users_app"]

users_app = typer.Typer(
    help="Who may log in to the desk, and with which role.", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="the user's name")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("no password on standard input")
        return password
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise UsageError("the two passwords differ")
    return str(first)


@users_app.command("add")
def add(
    name: NameArgument,
    role: Annotated[str, typer.Option("--role", help="editor or operator")] = "editor",
    password_stdin: StdinOption = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Add a desk user: editors act on drafts; operators also manage lists and sources."""
    from digest.accounts import add_user  # lazy: Argon2 only for this command
    from digest.models import Role

    if role not in tuple(Role):
        raise UsageError(f"--role must be one of {', '.join(Role)}")
    password = _password(password_stdin)
    with open_workspace(config, home) as ws:
        add_user(ws.store, name, Role(role), password)
    out.print(f"{name}: added as {role}")


@users_app.command("list")
def list_users(
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Every desk user with their role."""
    from rich.table import Table  # lazy: `digest --help` starts without it

    with open_workspace(config, home) as ws:
        rows = [
            {
                "name": u.name,
                "role": str(u.role),
                "since": u.created_at.isoformat(timespec="minutes"),
            }
            for u in ws.store.users()
        ]
    if json_output:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print("no users yet: `digest users add NAME --role editor`")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "role", "since (UTC)"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["role"], row["since"])
    out.print(table)


@users_app.command("remove")
def remove(name: NameArgument, config: ConfigOption = None, home: HomeOption = None) -> None:
    """Remove a desk user; their sessions end."""
    with open_workspace(config, home) as ws:
        if not ws.store.remove_user(name):
            raise UsageError(f"no user named {name!r}")
    out.print(f"{name}: removed")


@users_app.command("password")
def password(
    name: NameArgument,
    password_stdin: StdinOption = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Set a new password; the user's sessions from before it end."""
    from digest.accounts import change_password  # lazy: Argon2 only for this command

    new = _password(password_stdin)
    with open_workspace(config, home) as ws:
        change_password(ws.store, name, new)
    out.print(f"{name}: password changed")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
