"""The rich console the commands print with, made on first use.

Importing rich costs every `kiosk` run, `kiosk --help` included, though only a few
commands print tables; a command module holds a `LazyConsole` at top level (so a test can
still swap `module.console` for its own `Console`) and rich loads when something prints.
"""

from __future__ import annotations

from typing import Any


class LazyConsole:
    """Stands in for `rich.console.Console(**options)` until an attribute is first used."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


__all__ = ["LazyConsole"]
