"""The errors latte reports to its users.

Every error a user can cause is a `LatteError`: its message is one or two plain sentences that
name the problem and the way out, and its `exit_code` is the one documented in the README.
The CLI turns them into a line on stderr; nothing else ever reaches the user as a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from latte_cli.models import Customer


class LatteError(Exception):
    """A refusal the user can act on (exit code 1 unless a subclass says otherwise)."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(LatteError):
    """The complaint, customer or follow-up asked for does not exist."""


class StageOutOfOrder(LatteError):
    """A LATTE stage was recorded out of turn, twice, or on a resolved complaint."""


class InvalidValue(LatteError):
    """A value given on the command line or in a file cannot be used."""


class DatabaseError(LatteError):
    """The database cannot be opened, is not latte's, is too new, or is busy."""


class Interrupted(LatteError):
    """The user pressed Ctrl-C; everything completed before it is saved."""

    exit_code = 130


class SeveralCustomers(LatteError):
    """A customer was named by an email, phone or name that several customers share."""

    def __init__(self, message: str, candidates: Sequence[Customer]) -> None:
        super().__init__(message)
        self.candidates = candidates
