"""What several revisions do the same way."""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


def analyse(names: Sequence[str]) -> None:
    """Refresh SQLite's statistics of these tables or indexes, if the database keeps
    statistics (someone ran ANALYZE on it): without them the planner would weigh a new index
    against old ones that have statistics. Nothing on PostgreSQL, whose autovacuum does it."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    analysed = bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).first()
    if analysed is not None:
        for name in names:
            op.execute(f"ANALYZE {name}")
