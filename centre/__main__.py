"""`python -m centre`: serve the centre (same as `kiosk centre serve`)."""

from __future__ import annotations

import sys

from kiosk.cli import main

if __name__ == "__main__":
    sys.exit(main(["centre", "serve", *sys.argv[1:]]))
