"""What kept customers like this one: the advice at Take action and the urgency line at
Listen (docs/metrics.md, "Advice for the agent").

The complaints looked at are those first resolved in the `months` before the as-of time T,
with a known customer, not merged into another, other than the complaint itself. Their
outcomes follow the reports' definitions exactly (docs/metrics.md, "Outcomes"; the repeat
complaint as docs/metrics.md defines it for the advice):

- repurchase outcome, window W: *repurchased* when the first purchase after the first
  resolution is in `(resolved, resolved + W]` and known by T, or a follow-up recorded by T
  says the customer bought again; *lost* when not and `resolved + W <= T`; *pending*
  otherwise, never lost;
- repeat complaint, R days: *repeated* when the customer opened another complaint (not a
  merged duplicate) in `(resolved, resolved + R]`, by T; *not repeated* when not and
  `resolved + R <= T`; *pending* otherwise.

What decides them is kept per complaint at write time in `report_outcome` (`latte_cli.cohort`,
revisions 0009 and 0012): the first purchase, the first follow-up saying the customer bought
again, the customer's next complaint, with the category, action kind and resolution time.
So the counts are one grouped pass over an index range per question and the medians a short
read in order, whatever the history's size. While changes written by another program wait
to be folded (`cohort.pending`), the same is computed from the complaint rows instead, as
reports do (slower: three look-ups per complaint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlmodel import Session

from latte_cli import cohort
from latte_cli.advice import (
    SPEED_FAST,
    SPEED_SLOW,
    ActionAdvice,
    Advice,
    Rate,
    Scope,
    Urgency,
    ranked,
)
from latte_cli.errors import StageOutOfOrder
from latte_cli.services.complaints import get_complaint
from latte_cli.timeutil import utcnow

DAY = 86_400
REPEAT_DAYS = 30  # R of the repeat complaint (docs/metrics.md, "Advice for the agent")
NO_KIND = "(none)"


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the month's last day when
    that month is shorter)."""
    import calendar

    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _scope(
    category: str | None, *, as_of: datetime, months: int, window_days: int, min_n: int
) -> Scope:
    moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return Scope(
        category=category,
        months=months,
        since=int(months_before(moment.astimezone(UTC), months).timestamp()),
        as_of=int(moment.timestamp()),
        window_days=window_days,
        repeat_days=REPEAT_DAYS,
        min_n=min_n,
    )


class _FromRows:
    """One question's complaints and their outcomes computed from the complaint rows: what
    the advice reads while changes written by another program wait to be folded."""

    def __init__(self, session: Session, scope: Scope, exclude: int | None) -> None:
        t = cohort.table
        self.c, self.f, self.p = (t(n).c for n in ("complaint", "followup", "purchase"))
        c = self.c
        self.session = session
        r = c.first_resolved_epoch
        window = scope.window_days * DAY
        conditions: list[ColumnElement[bool]] = [
            r > scope.since,
            r <= scope.as_of,
            c.customer_id.is_not(None),
            c.merged_into.is_(None),
        ]
        if exclude is not None:
            conditions.append(c.id != exclude)
        if scope.category is not None:
            conditions.insert(0, c.category == scope.category)
        self.where = and_(*conditions)
        p = self.p
        first: Any = (
            select(func.min(p.purchased_epoch))
            .where(p.customer_id == c.customer_id, p.purchased_epoch > r)
            .scalar_subquery()
        )
        # No purchase after the resolution: "never", so the comparisons below are never NULL.
        first = func.coalesce(first, cohort.NEVER)
        f = self.f
        said = exists().where(
            f.complaint_id == c.id, f.repurchased.is_(True), f.recorded_epoch <= scope.as_of
        )
        self.bought = or_(and_(first <= r + window, first <= scope.as_of), said)
        self.closed = r + window <= scope.as_of
        again = cohort.table("complaint").alias("again").c
        self.repeated = exists().where(
            again.customer_id == c.customer_id,
            again.opened_epoch > r,
            again.opened_epoch <= r + scope.repeat_days * DAY,
            again.opened_epoch <= scope.as_of,
            again.merged_into.is_(None),
        )
        self.repeat_closed = r + scope.repeat_days * DAY <= scope.as_of

    def source(self, *columns: Any) -> Any:
        return select(*columns).select_from(cohort.table("complaint")).where(self.where)

    def key(self, by: str) -> Any:
        if by == "kind":
            return self.c.action_kind
        took = self.c.first_resolved_epoch - self.c.opened_epoch
        return case((took < SPEED_FAST, 0), (took >= SPEED_SLOW, 2), else_=1)

    def counts(self, by: str) -> dict[Any, tuple[int, ...]]:
        """Per action kind or speed (0: < 4 h, 1, 2: >= 3 d): (repurchased, lost, pending,
        repeated, not repeated, pending).

        Each complaint's four facts go into one small number grouped on (by position: an
        expression with bound values repeated in GROUP BY would not match on PostgreSQL),
        so each lookup runs once per complaint."""
        code = (
            case((self.bought, 1), else_=0)
            + case((self.closed, 2), else_=0)
            + case((self.repeated, 4), else_=0)
            + case((self.repeat_closed, 8), else_=0)
        )
        key = self.key(by)
        query = self.source(key.label("key"), code.label("code"), func.count()).group_by(
            text("1"), text("2")
        )
        found: dict[Any, list[int]] = {}
        for value, facts, n in self.session.execute(query):
            counts = found.setdefault(value, [0] * 6)
            bought, closed, repeated, repeat_closed = (bool(facts & bit) for bit in (1, 2, 4, 8))
            counts[0 if bought else 1 if closed else 2] += n
            counts[3 if repeated else 4 if repeat_closed else 5] += n
        return {value: tuple(counts) for value, counts in found.items()}

    def medians(self, totals: dict[Any, int]) -> dict[Any, float]:
        """Per action kind: the median resolution time (first resolution minus opening)."""
        key = self.key("kind")
        took = self.c.first_resolved_epoch - self.c.opened_epoch
        ranked_rows = self.source(
            key.label("key"),
            took.label("took"),
            func.row_number().over(partition_by=key, order_by=took).label("rn"),
            func.count(literal(1)).over(partition_by=key).label("cnt"),
        ).subquery()
        q = ranked_rows.c
        middle = or_(q.rn == (q.cnt + 1) / 2, q.rn == (q.cnt + 2) / 2)
        rows = self.session.execute(
            select(q.key, func.avg(q.took)).where(middle).group_by(q.key)
        ).all()
        return {key_value: float(value) for key_value, value in rows}


class _Kept:
    """One question's complaints and their outcomes from `report_outcome`, where they are
    kept at write time (revision 0012), without a look-up per complaint or a sort:

    - the (category, action kind) pairs are found by a few seeks of the index;
    - each pair's period is cut where the repurchase and repeat windows close (T - W,
      T - R): inside each part a window is closed for all or for none, so a complaint that
      did not buy again is lost or pending by its part alone, and one statement counts,
      per pair and part, the complaints, those who bought again and those who complained
      again, each part one range of `ix_report_outcome_advice`;
    - a median is the middle one or two of `ix_report_outcome_median`, read in order
      (`+ 0` keeps the period from choosing the other index, which would need a sort).

    The statements are written as text and run on the driver (as `cohort.records_between`
    does): building and caching SQLAlchemy constructs for a union of a few dozen parts cost
    more than running it.
    """

    def __init__(self, session: Session, scope: Scope, exclude: int | None) -> None:
        self.conn = session.connection()
        self.mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        if self.conn.dialect.name == "postgresql":
            # The parts are small ranges: starting parallel workers for them (PostgreSQL
            # plans a parallel append for the union) costs more than it saves.
            self.conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        self.scope = scope
        self.exclude = exclude

    def _run(self, sql: str, params: list[Any]) -> list[Any]:
        return list(self.conn.exec_driver_sql(sql, tuple(params)).all())

    def _equal(self, column: str, value: Any, params: list[Any]) -> str:
        if value is None:
            return f"{column} IS NULL"
        params.append(value)
        return f"{column} = {self.mark}"

    def _distinct(self, column: str, where: str = "", params: Sequence[Any] = ()) -> list[Any]:
        """The values of an index's leading column (after `where`), one seek each; None
        last when some rows have none."""
        m, found = self.mark, list[Any]()
        prefix = f"{where} AND " if where else ""
        while True:
            after = f"{column} > {m}" if found else f"{column} IS NOT NULL"
            rows = self._run(
                f"SELECT min({column}) FROM report_outcome WHERE {prefix}{after}",
                [*params, *found[-1:]],
            )
            if rows[0][0] is None:
                break
            found.append(rows[0][0])
        none = f"SELECT 1 FROM report_outcome WHERE {prefix}{column} IS NULL LIMIT 1"
        if self._run(none, list(params)):
            found.append(None)
        return found

    def _groups(self) -> list[tuple[Any, str, list[Any]]]:
        """Per (category, action kind) of the scope: the kind, its condition and values."""
        category = self.scope.category
        categories = [category] if category is not None else self._distinct("category")
        groups = []
        for value in categories:
            params: list[Any] = []
            same = self._equal("category", value, params)
            for kind in self._distinct("action_kind", same, params):
                kind_params = list(params)
                condition = f"{same} AND {self._equal('action_kind', kind, kind_params)}"
                groups.append((kind, condition, kind_params))
        return groups

    def _period(self, low: int, high: int, params: list[Any], shift: str = "") -> str:
        m = self.mark
        params += [low, high]
        text = f"resolved_epoch{shift} > {m} AND resolved_epoch{shift} <= {m}"
        if self.exclude is not None:
            params.append(self.exclude)
            text += f" AND complaint_id <> {m}"
        return text

    def _parts(self) -> list[tuple[int, int, bool, bool]]:
        """The period cut where the windows close: (after, up to, repurchase window closed,
        repeat window closed) for every complaint first resolved in the part."""
        s = self.scope
        window, repeat = s.window_days * DAY, s.repeat_days * DAY
        cuts = sorted({c for c in (s.as_of - window, s.as_of - repeat) if s.since < c < s.as_of})
        bounds = [s.since, *cuts, s.as_of]
        return [
            (low, high, high + window <= s.as_of, high + repeat <= s.as_of)
            for low, high in pairwise(bounds)
        ]

    def counts(self, by: str) -> dict[Any, tuple[int, ...]]:
        """As `_FromRows.counts`: per action kind, or per speed (0: < 4 h, 2: >= 3 d)."""
        m, t = self.mark, self.scope.as_of
        window, repeat = self.scope.window_days * DAY, self.scope.repeat_days * DAY
        fast, slow = f"resolution_seconds < {SPEED_FAST}", f"resolution_seconds >= {SPEED_SLOW}"
        parts, params, keys = [], list[Any](), list[tuple[Any, bool, bool]]()
        for kind, same, same_params in self._groups():
            for low, high, closed, repeat_closed in self._parts():
                # A comparison with an absent time is NULL: not counted. In a closed window
                # a purchase within it is known by T; in an open one a purchase known by T
                # is within it. The same for the repeat window.
                within = "resolved_epoch + " if closed else ""
                bought = f"(purchased_epoch <= {within}{m} OR said_epoch <= {m})"
                bought_params = [window if closed else t, t]
                if by == "kind":
                    again = "resolved_epoch + " if repeat_closed else ""
                    columns = (
                        f"count(*), count(CASE WHEN {bought} THEN 1 END), "
                        f"count(CASE WHEN again_epoch <= {again}{m} THEN 1 END)"
                    )
                    values = [*bought_params, repeat if repeat_closed else t]
                else:
                    columns = (
                        f"count(CASE WHEN {fast} THEN 1 END), "
                        f"count(CASE WHEN {fast} AND {bought} THEN 1 END), "
                        f"count(CASE WHEN {slow} THEN 1 END), "
                        f"count(CASE WHEN {slow} AND {bought} THEN 1 END)"
                    )
                    values = bought_params * 2
                values += same_params
                period = self._period(low, high, values)
                # Numbered: the parts of a UNION ALL may come back in any order.
                parts.append(
                    f"SELECT {len(keys)}, {columns} FROM report_outcome WHERE {same} AND {period}"
                )
                params += values
                keys.append((kind, closed, repeat_closed))
        if not parts:
            return {}
        found: dict[Any, list[int]] = {}
        for number, *row in self._run(" UNION ALL ".join(parts), params):
            kind, closed, repeat_closed = keys[int(number)]
            counted = [int(v) for v in row]
            groups = (
                [(kind, counted[0], counted[1], counted[2])]
                if by == "kind"
                else [(0, counted[0], counted[1], None), (2, counted[2], counted[3], None)]
            )
            for key, n, bought_n, repeated_n in groups:
                totals = found.setdefault(key, [0] * 6)
                totals[0] += bought_n
                totals[1 if closed else 2] += n - bought_n
                if repeated_n is not None:
                    totals[3] += repeated_n
                    totals[4 if repeat_closed else 5] += n - repeated_n
        return {key: tuple(v) for key, v in found.items() if any(v)}

    def medians(self, totals: dict[Any, int]) -> dict[Any, float]:
        """Per action kind with `totals[kind]` complaints: the median resolution time."""
        s, m = self.scope, self.mark
        parts, params, kinds = [], list[Any](), list[Any]()
        for kind, total in totals.items():
            values: list[Any] = []
            same = self._equal("action_kind", kind, values)
            if s.category is not None:
                values.insert(0, s.category)
                same = f"category = {m} AND {same}"
            where = self._period(s.since, s.as_of, values, " + 0")
            values += [2 - total % 2, (total - 1) // 2]
            parts.append(
                f"SELECT {len(kinds)}, resolution_seconds FROM (SELECT resolution_seconds "
                f"FROM report_outcome WHERE {same} AND {where} ORDER BY resolution_seconds "
                f"LIMIT {m} OFFSET {m}) AS middle_{len(kinds)}"
            )
            params += values
            kinds.append(kind)
        if not parts:
            return {}
        middle: dict[Any, list[int]] = {}
        for number, seconds in self._run(" UNION ALL ".join(parts), params):
            middle.setdefault(kinds[int(number)], []).append(int(seconds))
        return {kind: sum(v) / len(v) for kind, v in middle.items()}


def _outcomes(session: Session, scope: Scope, exclude: int | None) -> _Kept | _FromRows:
    """Where the outcomes are read: kept at write time, or (while changes written by another
    program wait in the queue, `cohort.pending`) computed from the rows, as reports do."""
    if cohort.pending(session.connection()):
        return _FromRows(session, scope, exclude)
    return _Kept(session, scope, exclude)


def _action_rows(session: Session, scope: Scope, exclude: int) -> list[ActionAdvice]:
    q = _outcomes(session, scope, exclude)
    counts = q.counts("kind")
    enough = {k: sum(v[:3]) for k, v in counts.items() if v[0] + v[1] >= scope.min_n}
    medians = q.medians(enough) if enough else {}
    return [
        ActionAdvice(
            action_kind=NO_KIND if k is None else k,
            repurchase=Rate(hits=v[0], n=v[0] + v[1], pending=v[2]),
            repeat=Rate(hits=v[3], n=v[3] + v[4], pending=v[5]),
            median_seconds=medians.get(k),
            median_n=enough[k],
        )
        for k, v in counts.items()
        if k in enough
    ]


def advise(
    session: Session,
    complaint_id: int,
    *,
    as_of: datetime | None = None,
    months: int,
    min_n: int,
    window_days: int,
) -> Advice:
    """The advice for complaint `complaint_id`: its category's complaints, else (when no
    action kind there has `min_n` decided outcomes) every category's."""
    complaint = get_complaint(session, complaint_id)
    if (into := complaint.merged_into) is not None:
        # A duplicate takes no action: its target does (docs/architecture.md, "Merges").
        raise StageOutOfOrder(
            f"Complaint {complaint_id} was merged into complaint {into}: no action is taken "
            f"on it. Ask for the advice on that one: latte advise {into}"
        )
    moment = as_of or utcnow()
    scope = _scope(
        complaint.category, as_of=moment, months=months, window_days=window_days, min_n=min_n
    )
    rows = _action_rows(session, scope, complaint_id)
    if not ranked(rows, min_n):
        scope = replace(scope, category=None)
        rows = _action_rows(session, scope, complaint_id)
    return Advice(
        complaint_id=complaint_id,
        category=complaint.category,
        scope=scope,
        rows=ranked(rows, min_n),
    )


def urgency(
    session: Session,
    category: str,
    *,
    exclude: int | None = None,
    as_of: datetime | None = None,
    months: int,
    min_n: int,
    window_days: int,
) -> Urgency | None:
    """For `category`: repurchase when first resolved within 4 h against after 3 days (the
    reports' `< 4 h` and `> 3 d` buckets); None unless both have `min_n` decided outcomes.
    No fallback to other categories: the line is about this kind of problem."""
    scope = _scope(
        category, as_of=as_of or utcnow(), months=months, window_days=window_days, min_n=min_n
    )
    counts = _outcomes(session, scope, exclude).counts("speed")
    fast, slow = (counts.get(k, (0,) * 6) for k in (0, 2))
    fast_rate = Rate(hits=fast[0], n=fast[0] + fast[1], pending=fast[2])
    slow_rate = Rate(hits=slow[0], n=slow[0] + slow[1], pending=slow[2])
    if min(fast_rate.n, slow_rate.n) < max(min_n, 1):
        return None
    return Urgency(category=category, fast=fast_rate, slow=slow_rate, scope=scope)
