"""Strict parsing for typed record bodies: one small engine, every body model uses it.

A body model is a frozen dataclass whose annotations say what JSON may hold: `str`,
`int`, `float` (a JSON integer is accepted, since RFC 8785 writes 1.0 as 1), `bool`,
`dict[str, Any]`, `list[str]`, a union with `None`, and `Absent` for a field that older
records may lack. `from_dict` refuses an unknown, missing or ill-typed field with a
`BodyFormatError` that names the record type and the field, and `to_dict` gives back the
exact dict (absent fields stay absent), so a parsed body re-serialises to the bytes that
were signed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, ClassVar, TypeVar, get_args, get_origin, get_type_hints

from kiosk.protocol.errors import BodyFormatError


class Absent:
    """Marker type: the field may be missing from the body (older records lack it)."""

    _instance: ClassVar[Absent | None] = None

    def __new__(cls) -> Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT = Absent()

_B = TypeVar("_B", bound="BodyModel")
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
    type(None): "null",
}


def _allowed(hint: Any) -> tuple[Any, ...]:
    if get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(a for arg in get_args(hint) for a in _allowed(arg))
    return (hint,)


def _matches(value: object, kind: Any) -> bool:
    origin = get_origin(kind) or kind
    if kind is Absent:
        return False  # only the missing key matches Absent
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if origin is list:
        args = get_args(kind)
        return isinstance(value, list) and (
            not args or args[0] is Any or all(_matches(v, args[0]) for v in value)
        )
    if kind is Any:
        return True
    return isinstance(value, origin)


def _describe(kinds: tuple[Any, ...]) -> str:
    names = [_TYPE_NAMES.get(get_origin(k) or k, str(k)) for k in kinds if k is not Absent]
    return " or ".join(names)


@dataclasses.dataclass(frozen=True)
class BodyModel:
    """Base of the typed body models; subclasses are frozen dataclasses."""

    record_type: ClassVar[str] = ""

    @classmethod
    def _hints(cls) -> dict[str, tuple[Any, ...]]:
        cached = cls.__dict__.get("_hint_cache")
        if cached is None:
            hints = get_type_hints(cls)
            cached = {f.name: _allowed(hints[f.name]) for f in dataclasses.fields(cls)}
            cls._hint_cache = cached  # type: ignore[attr-defined]
        return cached

    @classmethod
    def from_dict(cls: type[_B], body: object) -> _B:
        """Strict parse; BodyFormatError names the first unknown, missing or ill-typed field."""
        what = f"{cls.record_type} body"
        if not isinstance(body, dict):
            raise BodyFormatError(f"{what} must be an object")
        hints = cls._hints()
        extra = sorted(str(k) for k in body if k not in hints)
        if extra:
            raise BodyFormatError(f"{what} has unknown field(s): {', '.join(extra)}")
        missing = sorted(k for k, kinds in hints.items() if k not in body and Absent not in kinds)
        if missing:
            raise BodyFormatError(f"{what} is missing field(s): {', '.join(missing)}")
        values: dict[str, Any] = {}
        for name, kinds in hints.items():
            if name not in body:
                values[name] = ABSENT
                continue
            value = body[name]
            if not any(_matches(value, k) for k in kinds):
                raise BodyFormatError(
                    f"{what}: {name} must be {_describe(kinds)}, got {type(value).__name__}"
                )
            values[name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The body as it goes into a record; absent fields are left out."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not ABSENT
        }


__all__ = ["ABSENT", "Absent", "BodyModel"]
