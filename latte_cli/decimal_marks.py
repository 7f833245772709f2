"""The decimal marks an amount may be written with (`latte import --decimal-mark`, a profile's
`decimal_mark`; README, "Amounts").

Listed here, not in `importer/fields.py` which reads amounts with them, so that the CLI can
declare its option without loading the importer (`latte --help` stays light).
"""

from __future__ import annotations

from enum import StrEnum


class DecimalMark(StrEnum):
    POINT = "."
    COMMA = ","


DECIMAL_MARKS: tuple[str, ...] = tuple(DecimalMark)
