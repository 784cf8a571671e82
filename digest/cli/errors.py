"""The CLI's one error path: every `DigestError` becomes one line on stderr and an exit code.

    0  done
    1  the job failed (a source, a delivery, the store...)
    2  bad usage or bad configuration (one line per configuration problem: file, key, reason)

Commands raise; only `DigestGroup.invoke` catches, so no command can print an error its own
way. With `-v` the traceback follows the line. Anything that is not a `DigestError` is a bug
and keeps its traceback.
"""

from __future__ import annotations

import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from digest.cli.common import err, escape, state
from digest.errors import ConfigError, DigestError

__all__ = ["DigestGroup", "report_error"]


def report_error(exc: DigestError) -> int:
    """Print the error as the CLI shows it; returns its exit code."""
    lines = [str(problem) for problem in exc.problems] if isinstance(exc, ConfigError) else []
    for line in lines or [" ".join(str(exc).split())]:  # a driver's message may span lines
        err.print(f"[red]error:[/red] {escape(line)}", soft_wrap=True)
    if state.verbose:
        err.print("".join(traceback.format_exception(exc)), markup=False, soft_wrap=True)
    return exc.exit_code


class DigestGroup(TyperGroup):
    """The `digest` command group, which maps errors to exit codes for every subcommand."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context is private
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            raise typer.Exit(report_error(exc)) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
