"""The guided LATTE conversation: `latte new` and `latte resume` at a terminal.

What to say comes from the phrase library (`latte_cli.phrases`); what is shown, from
cli/render.py; the follow-up call's questions, from cli/followups.py.

The agent answers prompts (cli/prompts.py); every stage is saved through the same services as
`latte step`, each in its own transaction, the moment it is answered. No transaction is held
open while the agent types, so other agents are never blocked. Ctrl-C or the end of input at
any prompt keeps what was saved and ends with "continue with `latte resume ID`" (exit 130).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from latte_cli import config, vocabulary
from latte_cli.cli import advise, render
from latte_cli.cli.prompts import Prompter, Suggestion
from latte_cli.errors import Interrupted, InvalidValue, LatteError
from latte_cli.phrases import (
    PACKAGED_PHRASES,
    TITLES,
    StageGuide,
    action_of,
    action_text,
    address,
    describe_issue,
    fill,
    listen_of,
    load_phrases,
)
from latte_cli.services import team
from latte_cli.services.complaints import (
    NewComplaint,
    StageInput,
    agent_summary,
    open_complaint,
    parse_amount,
    record_stage,
)
from latte_cli.services.customers import (
    CustomerDetails,
    customer_history,
    search_customers,
)
from latte_cli.services.followups import followup_days, followup_to_record, pending_followup
from latte_cli.services.views import timeline
from latte_cli.timeutil import utcnow
from latte_cli.workflow import STAGES, Stage

if TYPE_CHECKING:
    from latte_cli.cli.app import Globals
    from latte_cli.models import Complaint, Customer

ENV_PHRASES = "LATTE_PHRASES"
COMMON_CATEGORIES = ("delivery", "billing", "product", "service", "staff", "website")
# Actions that move money: the guided flow asks for an amount only for these.
MONEY_ACTIONS = {"refund", "credit", "discount"}


def make_prompter() -> Prompter:
    """The prompter commands use; tests replace it with one on a pipe input."""
    return Prompter()


def _amount_check(value: str) -> bool | str:
    """Take action's amount: empty, or a valid amount; else the reason, shown as typed."""
    try:
        parse_amount(value)
    except LatteError as error:
        return error.message
    return True


# Which phrase library ------------------------------------------------------------------------


def _choices(kind: str) -> list[tuple[str, str]]:
    """The vocabulary's values of `kind` as (label, value) choices, in its order."""
    words = vocabulary.current()
    return [(words.label(kind, value), value) for value in words.values(kind)]


def phrases_path() -> Path:
    return config.Settings.resolve().phrases or PACKAGED_PHRASES


def load_guides() -> dict[str, StageGuide]:
    """The phrase library in use: the file LATTE_PHRASES names, else the one shipped."""
    try:
        return load_phrases(phrases_path())
    except InvalidValue as error:
        raise InvalidValue(f"{error.message} Or unset {ENV_PHRASES}.") from None


# The conversation ----------------------------------------------------------------------------


@dataclass
class Given:
    """What `latte new` got as flags: those questions are not asked."""

    listen: str | None = None
    channel: str | None = None
    category: str | None = None
    location: str | None = None
    severity: str | None = None
    summary: str | None = None
    customer: CustomerDetails = field(default_factory=CustomerDetails)
    opened_at: datetime | None = None


def _done(complaint: Complaint) -> str:
    if complaint.stage_due is None:
        return "explain"
    return STAGES[STAGES.index(Stage(complaint.stage_due)) - 1].value


class Conversation:
    def __init__(self, g: Globals, ask: Prompter, *, days: int | None = None) -> None:
        self.g = g
        # A guided conversation writes: its first look-ups may create the database.
        g.creates = True
        self.ask = ask
        self.days = followup_days(days)
        self.guides = load_guides()
        self.complaint: Complaint | None = None
        self.customer_name = ""
        self.listen = ""  # the customer's words: {issue} never reads them back
        self.action = ""
        self.ahead: dict[str, advise.Ahead] = {}

    # Plumbing ---------------------------------------------------------------------------

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Ctrl-C or end of input: say what is saved and how to continue, exit 130."""
        try:
            yield
        except (KeyboardInterrupt, EOFError):
            render.console.print()
            if self.complaint is None:
                raise Interrupted(
                    "Interrupted before the complaint was opened: nothing was saved. "
                    "Start again with `latte new`."
                ) from None
            cid = self.complaint.id
            raise Interrupted(
                f"Interrupted. Complaint {cid} is saved up to {_done(self.complaint)}; "
                f"continue with `latte resume {cid}`."
            ) from None

    @contextmanager
    def guarded_followup(self, complaint_id: int) -> Iterator[None]:
        try:
            yield
        except (KeyboardInterrupt, EOFError):
            render.console.print()
            raise Interrupted(
                f"Interrupted: the follow-up of complaint {complaint_id} was not recorded. "
                f"Record it with `latte followup record {complaint_id}`."
            ) from None

    def _guide(self, name: str) -> StageGuide:
        return self.guides.get(name, StageGuide(guidance=""))

    def _values(self) -> dict[str, str]:
        c = self.complaint
        return {
            "name": address(self.customer_name, self.g.settings().phrase_name),
            "issue": describe_issue(agent_summary(c.summary, self.listen), c.category) if c else "",
            "agent": self.g.agent,
            "days": str(self.days),
            "action": self.action,
            "change": "",
        }

    def _header(self, stage: Stage) -> None:
        number = STAGES.index(stage) + 1
        render.console.print()
        render.console.print(Text(f"{number}/5 {TITLES[stage]}", style="bold"))
        guidance = self._guide(stage.value).guidance
        if guidance:
            render.show_guidance(guidance)
        self._sla_line()

    def _sla_line(self) -> None:
        if self.complaint is None:
            return
        line = render.sla_countdown(self.complaint.opened_at, utcnow(), config.sla_hours())
        if line is not None:
            render.console.print(line)
        from latte_cli.services.views import deadline_view

        deadline = render.deadline_line(deadline_view(self.complaint, utcnow()))
        if deadline is not None:
            render.console.print(deadline)

    def _save(self, stage: Stage, given: StageInput) -> None:
        assert self.complaint is not None and self.complaint.id is not None
        with self.g.session() as session:
            self.complaint = record_stage(
                session,
                complaint_id=self.complaint.id,
                stage=stage.value,
                given=given,
                agent=self.g.agent,
                followup_days=self.days,
            )
        render.console.print(Text(f"Saved {TITLES[stage]}.", style="green"))

    # Customer and history ---------------------------------------------------------------

    def _suggest_customers(self, typed: str) -> list[Suggestion]:
        with self.g.session(readonly=True) as session:
            found = search_customers(session, typed, limit=8)
        return [
            Suggestion(
                value=c.ref or c.email or c.name or "",
                label=" · ".join(x for x in (c.name, c.email, c.phone) if x),
            )
            for c in found
            if c.ref or c.email or c.name
        ]

    def _new_customer(self, typed: str) -> CustomerDetails:
        guess_email = typed if "@" in typed else ""
        guess_name = "" if guess_email else typed
        name = self.ask.text("Customer's name:", default=guess_name)
        ref = self.ask.text("Customer ref (empty if none):", required=False)
        email = self.ask.text(
            "Email (empty if none):",
            default=guess_email,
            required=False,
            validate=lambda v: True if not v.strip() or "@" in v else "An email needs an @.",
        )
        phone = self.ask.text("Phone (empty if none):", required=False)
        return CustomerDetails(ref=ref, name=name, email=email, phone=phone)

    def choose_customer(self) -> tuple[Customer | None, CustomerDetails]:
        """Find the customer by ref, email or name, or take the details of a new one."""
        typed = self.ask.search(
            "Customer (ref, email or name):",
            self._suggest_customers,
            instruction="(Tab completes; empty: new or anonymous)",
        )
        if not typed:
            how = self.ask.select(
                "No customer given.",
                [("New customer", "new"), ("Anonymous: no customer record", "anonymous")],
            )
            if how == "anonymous":
                return None, CustomerDetails()
            return None, self._new_customer("")
        with self.g.session(readonly=True) as session:
            found = search_customers(session, typed, limit=10)
        lowered = typed.lower()
        exact = [c for c in found if lowered in ((c.ref or "").lower(), (c.email or "").lower())]
        if len(exact) == 1:
            return exact[0], CustomerDetails()
        if not found:
            render.console.print(Text(f"No customer matches {typed!r}: creating one."))
            return None, self._new_customer(typed)
        choices: list[tuple[str, Customer | None]] = [
            (" · ".join(x for x in (c.ref, c.name, c.email) if x), c) for c in found
        ]
        choices.append(("New customer", None))
        picked = self.ask.select("Which customer?", choices)
        if picked is None:
            return None, self._new_customer(typed)
        return picked, CustomerDetails()

    def _known_customer(self, details: CustomerDetails) -> Customer | None:
        """The stored customer flags name (by ref, else email), to show their history."""
        from latte_cli.services.customers import find_customer

        with self.g.session(readonly=True) as session:
            return find_customer(session, details)

    def show_history(self, customer: Customer) -> int | None:
        """The customer's history; returns an open complaint's id to continue, if chosen."""
        with self.g.session(readonly=True) as session:
            history = customer_history(session, customer)
        render.console.print()
        render.show_customer(history, self.g.tz)
        if not history.open_complaints:
            return None
        choices: list[tuple[str, int | None]] = [
            (f"Continue complaint {p.id} ({p.stage_due} due): {p.summary}", p.id)
            for p in history.open_complaints
        ]
        choices.append(("Open a new complaint anyway", None))
        # Short, so that the answer's line keeps room for the choice (docs/architecture.md).
        return self.ask.select("Continue an open complaint instead?", choices)

    # Stages -----------------------------------------------------------------------------

    def start(self, given: Given) -> None:
        """`latte new`: customer, history, Listen, then the remaining stages."""
        began = given.opened_at or utcnow()
        with self.guarded():
            customer: Customer | None
            details = given.customer
            if details.is_empty():
                customer, details = self.choose_customer()
            else:
                customer = self._known_customer(details)
            if customer is not None:
                continuing = self.show_history(customer)
                if continuing is not None:
                    self._continue(continuing)
                    return
            self.customer_name = (customer.name if customer else details.name) or ""
            self._listen(given, customer, details, began)
            self._remaining()

    def _listen(
        self, given: Given, customer: Customer | None, details: CustomerDetails, began: datetime
    ) -> None:
        self._header(Stage.LISTEN)
        render.show_suggestions([fill(p, self._values()) for p in self._guide("listen").phrases])
        words = given.listen or self.ask.text("The customer's words:", multiline=True)
        channel = given.channel or self.ask.select("Channel:", _choices("channel"), default="phone")
        category = given.category or self.ask.search(
            "Category:",
            self._suggest_from(self._known("category")),
            instruction="(e.g. delivery, billing, product)",
            required=True,
        )
        self._advice_ahead("urgency", lambda: advise.urgency_ahead(self.g, category))
        location = given.location
        if location is None:
            location = self.ask.search(
                "Location (branch or department, empty if none):",
                self._suggest_from(self._known("location")),
            )
        severity = given.severity or self.ask.select(
            "Severity:", _choices("severity"), default="medium"
        )
        new = NewComplaint(
            channel=channel,
            category=category,
            listen=words,
            summary=given.summary or "",
            location=location or None,
            severity=severity,
            customer=details,
            customer_id=customer.id if customer else None,
        )
        self.listen = words
        with self.g.session() as session:
            self.complaint = open_complaint(
                session,
                new=new,
                agent=self.g.agent,
                at=began,
                listened_at=utcnow(),
                deadlines=self.g.settings().deadlines,
            )
        render.console.print(
            Text(f"Saved Listen: complaint {self.complaint.id} is open.", style="green")
        )
        self._show_ahead("urgency", lambda: advise.urgency_ahead(self.g, category))

    def _known(self, column: str) -> list[str]:
        from latte_cli.services.views import known_values

        with self.g.session(readonly=True) as session:
            values = set(known_values(session, column))
        if column == "category":
            values |= set(COMMON_CATEGORIES)
        return sorted(values)

    @staticmethod
    def _suggest_from(values: Sequence[str]) -> Callable[[str], list[Suggestion]]:
        def suggest(typed: str) -> list[Suggestion]:
            low = typed.strip().lower()
            return [Suggestion(v, "") for v in values if low in v.lower()][:10]

        return suggest

    def _remaining(self) -> None:
        steps = {
            Stage.ACKNOWLEDGE: self._acknowledge,
            Stage.TAKE_ACTION: self._take_action,
            Stage.THANK: self._thank,
            Stage.EXPLAIN: self._explain,
        }
        assert self.complaint is not None
        while self.complaint.stage_due is not None:
            steps[Stage(self.complaint.stage_due)]()
        self.summary()

    def _phrase_stage(self, stage: Stage, message: str) -> str:
        phrases = [fill(p, self._values()) for p in self._guide(stage.value).phrases]
        return self.ask.phrase(message, phrases)

    def _acknowledge(self) -> None:
        self._header(Stage.ACKNOWLEDGE)
        self._advice_ahead("advice", self._advice)
        text = self._phrase_stage(Stage.ACKNOWLEDGE, "What you said to acknowledge it:")
        self._save(Stage.ACKNOWLEDGE, StageInput(text=text))

    def _advice_ahead(self, name: str, start: Callable[[], advise.Ahead]) -> None:
        """Start computing the urgency line or the advice while the agent answers (cli/advise.py;
        docs/metrics.md, "Advice for the agent"); `_show_ahead` shows it."""
        self.ahead[name] = start()

    def _show_ahead(self, name: str, start: Callable[[], advise.Ahead]) -> None:
        ahead = self.ahead.pop(name) if name in self.ahead else start()
        advise.show_ahead(ahead, self.g.tz)

    def _advice(self) -> advise.Ahead:
        assert self.complaint is not None and self.complaint.id is not None
        return advise.advice_ahead(self.g, self.complaint.id)

    def _take_action(self) -> None:
        self._header(Stage.TAKE_ACTION)
        self._show_ahead("advice", self._advice)
        kind = self.ask.select("Action:", _choices("action_kind"))
        detail = self._phrase_stage(Stage.TAKE_ACTION, "What exactly was done:")
        amount = ""
        if kind in MONEY_ACTIONS:
            amount = self.ask.text(
                "Amount (e.g. 12.50; empty if none):", required=False, validate=_amount_check
            )
        options: list[str] = []
        if not self.ask.confirm("Could the customer have exactly what they asked for?"):
            options = [
                line.strip()
                for line in self.ask.text(
                    "Options you offered, one per line:", multiline=True
                ).splitlines()
                if line.strip()
            ]
        given = StageInput(
            action_kind=kind,
            action_detail=detail,
            amount=amount or None,
            options_offered=tuple(options),
        )
        self._save(Stage.TAKE_ACTION, given)
        self.action = action_text(detail, kind)

    def _thank(self) -> None:
        self._header(Stage.THANK)
        text = self._phrase_stage(Stage.THANK, "How you thanked them:")
        self._save(Stage.THANK, StageInput(text=text))

    def _explain(self) -> None:
        self._header(Stage.EXPLAIN)
        cause = self.ask.select("What went wrong (root cause):", _choices("root_cause"))
        change = self.ask.text("What will change so it doesn't happen again:")
        values = self._values() | {"change": change}
        phrases = [fill(p, values) for p in self._guide("explain").phrases]
        told = self.ask.phrase("What you explained to the customer:", phrases)
        given = StageInput(text=told, root_cause=cause, what_will_change=change)
        self._save(Stage.EXPLAIN, given)

    # Resume and summary -----------------------------------------------------------------

    def resume(self, complaint_id: int) -> None:
        with self.guarded():
            self._continue(complaint_id)

    def _continue(self, complaint_id: int) -> None:
        with self.g.session(readonly=True) as session:
            view = timeline(session, complaint_id)
            note = team.unread_transfer(session, complaint_id=complaint_id, agent=self.g.agent)
        if note is not None:
            render.show_transfer_note(note, self.g.tz)
        if (into := view.complaint.merged_into) is not None:
            raise InvalidValue(
                f"Complaint {complaint_id} was merged into complaint {into}: nothing to "
                f"continue here. Continue that one with `latte resume {into}`."
            )
        if view.complaint.stage_due is None:
            raise InvalidValue(
                f"Complaint {complaint_id} is resolved: nothing to continue. Reopen it with "
                f"`latte reopen {complaint_id} --reason TEXT`."
            )
        self.complaint = view.complaint
        self.customer_name = (view.customer.name if view.customer else None) or ""
        self.listen = listen_of(view.stages)
        self.action = action_of(view.stages)
        render.show_timeline(view, self.g.tz)
        owner = view.complaint.assigned_agent
        if owner and owner != self.g.agent:
            render.console.print(Text(f"Note: this complaint is assigned to {owner}."))
        render.console.print(f"Continuing at {TITLES[Stage(view.complaint.stage_due)]}.")
        self._remaining()

    # Follow-up call ---------------------------------------------------------------------

    def introduce_followup(self, complaint_id: int, *, replace: bool = False) -> None:
        """Before `latte followup record`'s questions: who to call, about what, and what to say.

        The complaint is checked first, so that no answers are typed for a complaint that
        cannot be followed up yet, or whose follow-up is recorded already (without `replace`).
        """
        with self.g.session(readonly=True) as session:
            followup_to_record(session, complaint_id, replace=replace)
            view = timeline(session, complaint_id)
        self.complaint = view.complaint
        customer = view.customer
        self.customer_name = (customer.name if customer else None) or ""
        self.listen = listen_of(view.stages)
        self.action = action_of(view.stages)
        who = (customer.name or customer.ref) if customer else None
        render.console.print(
            Text(
                f"Follow-up of complaint {complaint_id}"
                + (f" ({who})" if who else "")
                + f": {view.complaint.summary}"
            )
        )
        guide = self._guide("followup")
        if guide.guidance:
            render.show_guidance(guide.guidance)
        render.show_suggestions([fill(p, self._values()) for p in guide.phrases])

    def summary(self) -> None:
        assert self.complaint is not None and self.complaint.id is not None
        with self.g.session(readonly=True) as session:
            view = timeline(session, self.complaint.id)
            followup = pending_followup(session, self.complaint.id)
        due = followup.due_at if followup else None
        render.show_summary(view.complaint, view.stages, due, self.g.tz)
