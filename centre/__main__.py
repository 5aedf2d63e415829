"""`python -m centre COMMAND`: the centre's own entry point (see `centre.cli`)."""

from __future__ import annotations

import sys

from centre.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m centre"))
