"""`latte db`: schema upgrades and the database's status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from latte_cli.cli import options
from latte_cli.cli.app import LatteGroup, app, globals_of

db_app = typer.Typer(
    cls=LatteGroup,
    no_args_is_help=True,
    help="Look after the database: upgrade, status, check, rebuild-summary, rebuild-search, "
    "backup, retain.",
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the database's schema to this latte's newest revision.

    Example: latte db upgrade
    """
    from latte_cli.config import redact_url
    from latte_cli.db import upgrade_database

    url = globals_of(ctx).db_url
    before, after = upgrade_database(url, busy_timeout_ms=globals_of(ctx).busy_timeout_ms)
    where = redact_url(url)
    if before == after:
        typer.echo(f"{where} is already at revision {after}.")
    else:
        typer.echo(f"{where} upgraded from revision {before or 'none'} to {after}.")


@db_app.command("status")
def status(
    ctx: typer.Context,
    as_json: options.Json = False,
) -> None:
    """Show the database's location (password hidden), schema revision and row counts.

    Example: latte db status --json
    """
    from latte_cli.cli import render
    from latte_cli.db import status as database_status

    g = globals_of(ctx)
    info = database_status(g.db_url, busy_timeout_ms=g.busy_timeout_ms)
    if as_json:
        render.print_json(render.status_json(info))
    else:
        render.show_status(info)


@db_app.command("check")
def check(
    ctx: typer.Context,
    as_json: options.Json = False,
) -> None:
    """Check the database: the store's integrity check and latte's own invariants.

    Example: latte db check
    """
    from latte_cli.cli import render
    from latte_cli.errors import DatabaseError
    from latte_cli.services.integrity import check_database

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        report = check_database(session, g.settings().deadlines)
    if as_json:
        render.print_json(
            render.fields_json(
                report,
                "store",
                "complaints",
                "clean",
                "problem_count",
                "problems",
                "problems_shown",
                "truncated",
                "deadlines_checked",
                "deadlines_recomputed",
                "search_compared",
            )
        )
    else:
        for problem in report.problems:
            typer.echo(problem)
        if report.truncated:
            typer.echo(
                f"(the first {report.problems_shown} of {report.problem_count} problems are listed)"
            )
        if report.clean:
            typer.echo(
                f"OK: {report.complaints} complaints checked on {report.store}; no problems found."
            )
        if not report.search_compared:
            typer.echo(
                "The search documents were not compared with the complaints: the database is "
                "read-only (FTS5's check writes). Check a writable copy for that."
            )
    listed = (
        f"the first {report.problems_shown} of {report.problem_count} listed on stdout"
        if report.truncated
        else "listed on stdout"
    )
    if report.only_summary:
        raise DatabaseError(
            f"The report summary is out of date ({report.problem_count} rows differ; {listed}). "
            "Run `latte db rebuild-summary`."
        )
    if report.only_search:
        raise DatabaseError(
            f"The search index is out of date ({report.problem_count} problems; {listed}). "
            "Run `latte db rebuild-search`."
        )
    if not report.clean:
        raise DatabaseError(
            f"The database has {report.problem_count} problems ({listed}). "
            "Restore a backup copy (see the README) or report the problem."
        )


@db_app.command("rebuild-summary")
def rebuild_summary(ctx: typer.Context) -> None:
    """Recompute the report summary (what weekly trends read) from the complaints.

    Only needed when `latte db check` says the summary is out of date, for example after
    complaint rows were changed by hand with triggers disabled.

    Example: latte db rebuild-summary
    """
    from latte_cli.services.integrity import rebuild_summary as rebuild

    with globals_of(ctx).session() as session:
        written = rebuild(session)
    typer.echo(f"Report summary rebuilt: {written:,} rows.")


@db_app.command("rebuild-search")
def rebuild_search(ctx: typer.Context) -> None:
    """Build the search index again from the complaints, customers and their texts.

    Only needed when `latte db check` says the search index is out of date, for example after
    rows were changed by hand with the index's triggers dropped.

    Example: latte db rebuild-search
    """
    from latte_cli.services.search import rebuild_index

    with globals_of(ctx).session(create=False) as session:
        indexed = rebuild_index(session)
    typer.echo(f"Search index rebuilt: {indexed:,} complaints.")


@db_app.command("backup")
def backup(
    ctx: typer.Context,
    destination: Annotated[Path, typer.Argument(metavar="FILE", help="The new backup file.")],
) -> None:
    """Copy the SQLite database to FILE while latte is in use (online backup).

    Example: latte db backup ~/backups/latte-2026-11-23.db
    """
    from latte_cli.db import backup as backup_database

    g = globals_of(ctx)
    size = backup_database(g.db_url, destination.expanduser(), busy_timeout_ms=g.busy_timeout_ms)
    typer.echo(f"Backed up to {destination} ({size:,} bytes).")


@db_app.command("retain")
def retain(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be anonymised; change nothing.")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Anonymise resolved complaints older than the retention period (the `retention` setting).

    Free text and, once all their complaints are anonymised, customers' identities are
    erased as `latte customer forget` does; every report figure stays. Legal holds
    (`latte hold`) are respected.

    Example: latte db retain --dry-run
    """
    from latte_cli.cli import render
    from latte_cli.cli.editor import RemovedDrafts, drafts_of, remove_drafts
    from latte_cli.services.retention import retain as apply_retention

    g = globals_of(ctx)
    settings = g.settings()
    with g.session(create=False) as session:
        done = apply_retention(
            session,
            default=settings.retention,
            by_category=settings.retention_by_category,
            agent=g.agent,
            dry_run=dry_run,
        )
    # The kept texts of the complaints erased hold their words too (cli/editor.py).
    to_remove = len(drafts_of(g.db_url, done.complaint_ids))
    drafts = RemovedDrafts(0) if dry_run else remove_drafts(g.db_url, done.complaint_ids)
    if as_json:
        found = {"drafts_removed": drafts.removed, "drafts_to_remove": to_remove}
        render.print_json({**render.fields_json(done), **found})
        if drafts.warning:
            typer.echo(drafts.warning, err=True)
        return
    would = "would be" if dry_run else "were"
    typer.echo(
        f"{len(done.complaint_ids)} complaint(s) {would} anonymised and {done.customers} "
        f"customer(s) forgotten; {len(done.held_ids)} past their period are under a legal hold."
    )
    if done.duplicates:
        typer.echo(f"{done.duplicates} customer(s) merged into them {would} forgotten with them.")
    if to_remove:
        typer.echo(f"{to_remove} unsaved text(s) kept for those complaints {would} removed.")
    if drafts.warning:
        typer.echo(drafts.warning, err=True)
    if dry_run:
        typer.echo("Dry run: nothing was changed.", err=True)
    elif not done.checkpointed:
        typer.echo(
            "The write-ahead log could not be emptied while other latte commands read the "
            "database: it still holds the erased text until the last of them exits.",
            err=True,
        )
