"""The ``kubeplan`` command: wiring only. Commands live in one module per area and
register themselves on ``app``; errors are translated once, in ``main``."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from assistant.errors import KubeplanError

app = typer.Typer(
    name="kubeplan",
    help="Kubernetes architecture planning assistant: grounded, cited, structured answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

# Each module adds its commands to ``app`` on import.
from assistant.cli import answers as _answers  # noqa: E402,F401
from assistant.cli import doctor as _doctor  # noqa: E402,F401
from assistant.cli import evaluate as _evaluate  # noqa: E402,F401
from assistant.cli import kb as _kb  # noqa: E402,F401


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except KubeplanError as exc:
        # Messages quote paths, globs and lists: escape them so rich does not eat [brackets].
        err_console.print(f"[bold red]error:[/] {escape(exc.problem)}")
        if exc.fix:
            err_console.print(f"[bold]fix:[/] {escape(exc.fix)}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's usage errors and aborts
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
    # With standalone_mode=False click returns typer.Exit's code instead of exiting.
    sys.exit(code if isinstance(code, int) else 0)
