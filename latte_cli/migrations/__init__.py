"""latte's Alembic revisions, shipped inside the package.

`REVISIONS` lists them oldest first so that a database's revision can be checked without
importing Alembic; a test proves the list matches the revision files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0009")
HEAD = REVISIONS[-1]


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    return config
