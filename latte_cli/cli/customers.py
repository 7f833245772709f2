"""`latte customer`: a customer's history, and finding customers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from latte_cli.cli import options
from latte_cli.cli.app import LatteGroup, Misused, app, globals_of

if TYPE_CHECKING:
    from latte_cli.models import Customer

customer_app = typer.Typer(
    cls=LatteGroup,
    no_args_is_help=True,
    help="Look up customers and their history: show, search; correct them: edit, merge; hand "
    "their data over: export; erase them: forget.",
)
app.add_typer(customer_app, name="customer")


def _complete_customer(ctx: typer.Context, incomplete: str) -> list[str]:
    """Tab completion: customers whose ref, email, phone or name starts with what is typed."""
    from latte_cli.errors import LatteError
    from latte_cli.services.search import complete_customers

    g = globals_of(ctx)
    g.db_option = g.db_option or ctx.find_root().params.get("db")
    try:
        with g.session(readonly=True) as session:
            return complete_customers(session, incomplete)
    except LatteError:  # no database yet, or not reachable: nothing to offer
        return []


# The customer `forget` and `export` act on, found as `customer show` finds one.
CustomerArgument = Annotated[
    str,
    typer.Argument(
        metavar="CUSTOMER",
        help="The customer's ref, email, phone or name.",
        autocompletion=_complete_customer,
    ),
]


@contextmanager
def _candidates_listed() -> Iterator[None]:
    """An email, phone or name that several customers share: list them on stderr, then fail
    (exit 1) as `customer show` does without a terminal; nothing is asked."""
    from latte_cli.cli import render
    from latte_cli.errors import SeveralCustomers

    try:
        yield
    except SeveralCustomers as several:
        render.show_customer_candidates(several.candidates)
        raise


def _choose_customer(customers: list[Customer]) -> Customer:
    from latte_cli.cli.prompts import Prompter
    from latte_cli.errors import Interrupted

    choices = [
        (" · ".join(v for v in (c.ref, c.name, c.email, c.phone) if v) or f"#{c.id}", c)
        for c in customers
    ]
    try:
        return Prompter().select(f"{len(customers)} customers match: which one?", choices)
    except (KeyboardInterrupt, EOFError):
        raise Interrupted("Interrupted: no customer shown.") from None


@customer_app.command("show")
def show_customer(
    ctx: typer.Context,
    who: Annotated[
        str,
        typer.Argument(
            metavar="CUSTOMER",
            help="The customer's ref, email, phone or name.",
            autocompletion=_complete_customer,
        ),
    ],
    as_json: options.Json = False,
) -> None:
    """Show a customer's complaints with their actions and outcomes, and last purchases.

    When an email, phone or name fits several customers, a terminal asks which one; elsewhere
    they are listed and the command exits 1.

    Example: latte customer show C-104; latte customer show "+44 7700 900123"
    """
    from latte_cli.cli import render
    from latte_cli.cli.app import stdin_is_terminal
    from latte_cli.errors import SeveralCustomers
    from latte_cli.services.search import customer_history_named

    g = globals_of(ctx)
    choose = _choose_customer if stdin_is_terminal() and not as_json else None
    with g.session(readonly=True) as session:
        try:
            history = customer_history_named(session, who, choose=choose)
        except SeveralCustomers as several:
            render.show_customer_candidates(several.candidates)
            raise
    if as_json:
        render.print_json(render.customer_history_json(history))
    else:
        render.show_customer(history, g.tz)


@customer_app.command("search")
def search_customer(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Part of a ref, email, name or phone.")],
    limit: Annotated[int, typer.Option(help="At most this many customers.")] = 20,
    as_json: options.Json = False,
) -> None:
    """Find customers by ref, email, name or phone, whatever the case and accents.

    Example: latte customer search diaz
    """
    from latte_cli.cli import render
    from latte_cli.services.customers import search_customers

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        found = search_customers(session, text, limit=limit)
    if as_json:
        render.print_json([render.customer_json(c) for c in found])
    elif not found:
        typer.echo(f"No customer matches {text!r}.")
    else:
        for c in found:
            typer.echo(f"{c.ref or '—'}\t{c.name or '—'}\t{c.email or '—'}\t{c.phone or '—'}")


@customer_app.command("edit")
def edit_customer(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The customer's ref.")],
    name: Annotated[str | None, typer.Option(help="The corrected name.")] = None,
    email: Annotated[str | None, typer.Option(help='The corrected email ("" clears it).')] = None,
    phone: Annotated[str | None, typer.Option(help='The corrected phone ("" clears it).')] = None,
    new_ref: Annotated[
        str | None, typer.Option("--ref", metavar="REF", help="The corrected ref.")
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Why, for the event log. Default: none given.")
    ] = None,
    as_json: options.Json = False,
) -> None:
    """Correct a customer's name, email, phone or ref; each of their complaints logs it.

    Refused if the customer would then be the same as another one: merge them instead.

    Example: latte customer edit C-104 --name "Ana Díaz" --reason "Typed without accent"
    """
    from latte_cli.cli import render
    from latte_cli.services.customers import CustomerDetails
    from latte_cli.services.customers import edit_customer as edit

    g = globals_of(ctx)
    changes = CustomerDetails(ref=new_ref, name=name, email=email, phone=phone)
    with g.session() as session:
        done = edit(session, ref=ref, changes=changes, reason=reason, agent=g.agent)
    if as_json:
        render.print_json(
            {
                "customer": render.customer_json(done.customer),
                "before": done.before,
                "after": done.after,
                "complaints": done.complaints,
            }
        )
        return
    changed = "; ".join(
        f"{field}: {done.before[field] or '—'} → {value or '—'}"
        for field, value in done.after.items()
    )
    typer.echo(f"Customer {done.customer.ref or ref} corrected: {changed}.")


@customer_app.command("merge")
def merge_customer(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The duplicate customer's ref.")],
    into: Annotated[str, typer.Option("--into", metavar="REF", help="The customer to keep.")],
    reason: Annotated[str, typer.Option(help="Why they are one person (kept in the event log).")],
    as_json: options.Json = False,
) -> None:
    """Join a duplicate customer into another: complaints, follow-ups and purchases move.

    The duplicate's ref stays, pointing at the customer kept (`latte customer show REF`).

    Example: latte customer merge C-2 --into C-1 --reason "Same person, second account"
    """
    from latte_cli.cli import render
    from latte_cli.services.merge import merge_customer as join

    g = globals_of(ctx)
    with g.session() as session:
        done = join(session, ref=ref, into_ref=into, reason=reason, agent=g.agent)
    if as_json:
        render.print_json(
            {
                "ref": done.source.ref,
                "into": render.customer_json(done.target),
                "complaints": done.complaints,
                "purchases": done.purchases,
                "filled": list(done.filled),
            }
        )
        return
    typer.echo(
        f"Customer {ref} merged into {into}: {done.complaints} complaint(s) and "
        f"{done.purchases} purchase(s) moved."
    )


@customer_app.command("forget")
def forget_customer(
    ctx: typer.Context,
    ref: CustomerArgument,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, for the event log (e.g. 'erasure request').")
    ],
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask to confirm (for scripts).")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Erase a customer: name, email, phone, ref and every free text of their complaints.

    Every customer merged into this one is the same person and is forgotten with it. An
    email, phone or name that several customers share is refused, listing them.

    Times, stages, kinds, amounts, root causes and purchases stay, so no report figure
    changes. Backups made before keep the data.

    Example: latte customer forget C-104 --reason "erasure request" --yes
    """
    from latte_cli.cli import render
    from latte_cli.cli.app import stdin_is_terminal
    from latte_cli.cli.editor import remove_drafts, unattached_note
    from latte_cli.errors import Interrupted
    from latte_cli.services.customers import get_customer
    from latte_cli.services.privacy import forget_customer as forget
    from latte_cli.services.privacy import refuse_merged_away

    g = globals_of(ctx)
    if not yes:
        if not stdin_is_terminal():
            raise Misused(
                "forgetting cannot be undone: pass --yes to confirm without a terminal.",
                param_hint="--yes",
            )
        with g.session(readonly=True) as session, _candidates_listed():
            found = get_customer(session, ref)  # an unknown customer fails before the question
            refuse_merged_away(session, found, ref)
        # The ref is typed to confirm; for a customer without one, what was given.
        expected = found.ref or ref
        what = "the ref" if found.ref else repr(ref)
        try:
            typed = typer.prompt(f"This erases customer {ref} for good. Type {what} to confirm")
        except (KeyboardInterrupt, typer.Abort):
            raise Interrupted("Interrupted: nothing was erased.") from None
        if typed.strip() != expected:
            typer.echo("Not confirmed: nothing was erased.", err=True)
            raise typer.Exit(1)
    # A missing database is refused, not created (README, "Customer data").
    with g.session(create=False) as session, _candidates_listed():
        done = forget(session, ref, agent=g.agent, reason=reason)
    drafts = remove_drafts(g.db_url, done.complaint_ids)  # words erased: so are kept texts
    note = unattached_note(g.db_url)
    if as_json:
        render.print_json({**render.fields_json(done), "drafts_removed": drafts.removed})
        for warning in (drafts.warning, note):
            if warning:
                typer.echo(warning, err=True)
        return
    typer.echo(
        f"Forgot customer {done.ref}: now {done.pseudonym}.\n{done.complaints} complaint(s) "
        f"and {done.purchases} purchase(s) kept without personal data."
    )
    if done.duplicates:
        typer.echo(f"{done.duplicates} customer(s) merged into {done.ref} forgotten with it.")
    if drafts.removed:
        typer.echo(f"{drafts.removed} unsaved text(s) kept for their complaints removed.")
    for warning in (drafts.warning, note):
        if warning:
            typer.echo(warning, err=True)
    if not done.checkpointed:
        typer.echo(
            "The write-ahead log could not be emptied while other latte commands read the "
            "database: it still holds the erased text until the last of them exits.",
            err=True,
        )
    typer.echo(
        "Backups made before now still hold this customer's data: delete or expire them.",
        err=True,
    )


@customer_app.command("export")
def export_customer(
    ctx: typer.Context,
    ref: CustomerArgument,
    output: options.OutputFile = None,
    fmt: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="json or markdown (or md).")
    ] = "json",
) -> None:
    """Everything latte holds about a customer, for a subject-access request.

    Profile, customers merged into it, complaints with every stage, events (transfers,
    reopenings), follow-ups and purchases, as one JSON document or a readable Markdown file.

    Example: latte customer export C-104 --format markdown -o C-104.md
    """
    from latte_cli.cli import render
    from latte_cli.outfiles import destination, writing
    from latte_cli.services.privacy import customer_data

    path = destination(output)
    fmt = {"md": "markdown"}.get(fmt.lower(), fmt.lower())  # as `latte report --format`
    if fmt not in ("json", "markdown"):
        raise typer.BadParameter(
            f"{fmt!r} is not a format: use json or markdown.", param_hint="--format"
        )
    g = globals_of(ctx)
    with g.session(readonly=True) as session, _candidates_listed():
        data = customer_data(session, ref)
    text = render.json_text(data.as_json()) if fmt == "json" else render.customer_markdown(data)
    if data.merged_into is not None:  # the file says it too (README, "Customer data")
        typer.echo(data.merged_into["note"], err=True)
    if path is None:
        typer.echo(text, nl=False)
        return
    with writing(path) as handle:
        handle.write(text)
    typer.echo(f"Wrote customer {ref}'s data to {path}.", err=True)
