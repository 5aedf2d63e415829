"""Property tests for config loading: any TOML file and any KIOSK_* environment either
gives a config that passes `validate` (with finite numbers, and that survives a dump and
reload unchanged) or a ConfigError naming the problem; nothing else escapes."""

from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path
from typing import Any

import tomli_w
from fuzz_budget import fuzz
from hypothesis import given
from hypothesis import strategies as st

from kiosk.config import KioskConfig, dump_toml, load_config, validate
from kiosk.errors import ConfigError

FUZZ = fuzz(150)

SECTIONS: dict[str, dict[str, Any]] = {
    f.name: typing.get_type_hints(type(getattr(KioskConfig(), f.name)))
    for f in dataclasses.fields(KioskConfig)
}
KNOWN = [(s, k) for s, keys in SECTIONS.items() for k in keys]

toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["auto", "cpu", "en", "plaintext-dev", "0", "1e-3", "true", "nan"])
)
toml_values = toml_scalars | st.lists(toml_scalars, max_size=3)


@st.composite
def toml_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for section, key in draw(st.lists(st.sampled_from(KNOWN), max_size=6)):
        doc.setdefault(section, {})[key] = draw(toml_values)
    if draw(st.booleans()):  # sometimes an unknown section, key, or a non-table section
        name = draw(st.sampled_from([*SECTIONS, "bogus"]))
        doc[name] = draw(
            st.dictionaries(st.text(max_size=6), toml_values, max_size=2) | toml_values
        )
    return doc


def _check_accepted(cfg: KioskConfig, tmp: Path) -> None:
    validate(cfg)
    for value in _leaves(cfg.to_dict()):
        if isinstance(value, float):
            assert math.isfinite(value), "a non-finite number was accepted"
    again = tmp / "again.toml"
    again.write_text(dump_toml(cfg), encoding="utf-8")
    assert load_config(again, environ={}) == cfg


def _leaves(d: Any) -> list[Any]:
    if isinstance(d, dict):
        return [x for v in d.values() for x in _leaves(v)]
    return [d]


@FUZZ
@given(toml_docs())
def test_any_toml_gives_a_valid_config_or_config_error(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    try:
        cfg = load_config(path, environ={})
    except ConfigError:
        return
    _check_accepted(cfg, tmp_path)


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_file_gives_a_valid_config_or_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        cfg = load_config(path, environ={})
    except ConfigError:
        return
    _check_accepted(cfg, tmp_path)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(KNOWN).map(lambda sk: f"KIOSK_{sk[0].upper()}_{sk[1].upper()}"),
        st.text(max_size=10) | st.sampled_from(["nan", "inf", "-1", "0", "1e400", "yes"]),
        max_size=4,
    )
)
def test_any_environment_gives_a_valid_config_or_config_error(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    environ = {k: v for k, v in environ.items() if "\x00" not in v}
    environ["KIOSK_PATHS_DATA_DIR"] = str(tmp_path / "data")
    try:
        cfg = load_config(None, environ=environ)
    except ConfigError:
        return
    validate(cfg)
    for value in _leaves(cfg.to_dict()):
        if isinstance(value, float):
            assert math.isfinite(value), "a non-finite number was accepted from the environment"


def test_nan_thresholds_are_refused(tmp_path: Path) -> None:
    """Regression for what the fuzzer found: NaN made `x < threshold` false, turning the
    quality gate and the liveness veto off."""
    path = tmp_path / "kiosk.toml"
    path.write_text("[quality]\nmin_sharpness = nan\n", encoding="utf-8")
    import pytest

    with pytest.raises(ConfigError, match="finite"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="finite"):
        load_config(
            None, environ={"KIOSK_LIVENESS_CUE_VETO": "nan", "KIOSK_PATHS_DATA_DIR": str(tmp_path)}
        )
