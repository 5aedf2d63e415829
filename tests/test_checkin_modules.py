"""The check-in package after its split (IIN, roster store, QR reader, recorder): the old
import paths still give the same objects, and every new module imports on its own,
in any order (roster and roster_store refer to each other)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.checkin import iin, roster, roster_store


def test_old_roster_imports_are_the_moved_objects() -> None:
    assert roster.RosterStore is roster_store.RosterStore
    for name in ("validate_iin", "mask_iin", "make_iin", "iin_check_digit"):
        assert getattr(roster, name) is getattr(iin, name)
    assert {"RosterStore", "validate_iin"} <= set(roster.__all__)
    with pytest.raises(AttributeError, match="NoSuchThing"):
        roster.NoSuchThing  # noqa: B018


@pytest.mark.parametrize(
    "statement",
    [
        "import kiosk.checkin.roster_store",
        "from kiosk.checkin.roster import RosterStore",
        "from kiosk.checkin.roster import *; RosterStore",
        "import kiosk.checkin.iin",
        "import kiosk.checkin.recorder",
        "import kiosk.checkin.qr",
        "from kiosk.checkin.flow import CheckinFlow, FailClosedLiveness, FlowState, StateName",
    ],
)
def test_each_module_imports_first_in_a_fresh_interpreter(statement: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", statement], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_iin_validation_is_unchanged_by_the_move() -> None:
    from datetime import date

    from kiosk.errors import RosterError

    valid = iin.make_iin(date(2004, 1, 10), 5, 200)
    iin.validate_iin(valid)
    assert iin.mask_iin(valid) == "********" + valid[-4:]
    broken = valid[:11] + str((int(valid[11]) + 1) % 10)
    with pytest.raises(RosterError, match="checksum"):
        iin.validate_iin(broken)
