"""The rich console the commands print with, made on first use.

Importing rich costs every `kiosk` run, `kiosk --help` included, though only a few
commands print tables; a command module holds a `LazyConsole` at top level (so a test can
still swap `module.console` for its own `Console`) and rich loads when something prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class LazyConsole:
    """Stands in for `rich.console.Console(**options)` until an attribute is first used."""

    def __init__(self, **options: Any) -> None:
        # Lines are not re-wrapped by rich: piped output (80 columns) otherwise breaks
        # paths and fields in the middle; tables still fit the width.
        self._options = {"soft_wrap": True, **options}
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy/pickle probes: not the console's
            raise AttributeError(name)
        return getattr(self.real(), name)

    def real(self) -> Any:
        """The rich `Console` itself (for rich objects that take one, e.g. `Progress`)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A rich progress bar with a count, elapsed time and ETA for a long command; yields
    `advance(n=1)`. It draws on stderr, so stdout stays the command's result (JSON,
    tables) when piped; a short description keeps it on one 80-column line. A total
    learnt only on the way is passed as `advance(0, total=N)`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    from rich.console import Console

    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1, *, total: int | None = None) -> None:
            if total is not None:
                bar.update(task, total=total)
            bar.advance(task, n)

        yield advance


__all__ = ["LazyConsole", "progress_bar"]
