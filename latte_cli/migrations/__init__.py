"""latte's Alembic revisions, shipped inside the package.

`REVISIONS` lists them oldest first so that a database's revision can be checked without
importing Alembic; a test proves the list matches the revision files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

REVISIONS: tuple[str, ...] = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
    "0017",
    "0018",
    "0019",
    "0020",
    "0021",
)
HEAD = REVISIONS[-1]


# Tables the models do not describe: the full-text index (revision 0008) is an FTS5 virtual
# table with its shadow tables on SQLite and a tsvector table on PostgreSQL.
UNMODELLED_PREFIX = "search_index"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For Alembic's comparison of the models with the database: skip unmodelled tables."""
    return not (type_ == "table" and (name or "").startswith(UNMODELLED_PREFIX))


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    return config
