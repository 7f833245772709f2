"""Alembic environment: runs on the connection latte hands over, against SQLModel's metadata."""

from alembic import context
from sqlmodel import SQLModel

import latte_cli.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from latte_cli.migrations import include_name

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("latte's migrations run through `latte db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
