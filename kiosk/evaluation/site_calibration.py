"""Point the kiosk's config at a newly written site calibration.

The calibration window's "Write calibration" used to end with "set [match]
calibration_file to it": a hand edit a technician can forget, leaving the door on the
bundled threshold after a signed site calibration. The config file is edited as text so
its comments and layout survive; the result is parsed back before it replaces the file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from kiosk.errors import ConfigError
from kiosk.storage import atomic_write_text

_TABLE = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*calibration_file\s*=")


def point_config_at(config_file: Path, calibration_file: Path) -> None:
    """Set `[match] calibration_file` in `config_file` (created if absent) to the path."""
    text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    line = f"calibration_file = {_toml_string(str(calibration_file))}"
    lines = text.splitlines()
    table, match_at, key_at = None, None, None
    for n, raw in enumerate(lines):
        header = _TABLE.match(raw)
        if header:
            table = header.group(1).strip()
            if table == "match":
                match_at = n
            continue
        if table == "match" and _KEY.match(raw):
            key_at = n
    if key_at is not None:
        lines[key_at] = line
    elif match_at is not None:
        lines.insert(match_at + 1, line)
    else:
        lines += [*([""] if lines and lines[-1].strip() else []), "[match]", line]
    new = "\n".join(lines) + "\n"
    try:
        written = tomllib.loads(new)["match"]["calibration_file"]
    except (tomllib.TOMLDecodeError, KeyError) as exc:
        raise ConfigError(
            f"{config_file}: could not set [match] calibration_file ({exc})"
        ) from None
    if written != str(calibration_file):
        raise ConfigError(f"{config_file}: [match] calibration_file did not take")
    config_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config_file, new)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
