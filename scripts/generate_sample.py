"""Write a realistic, deterministic sample for `latte import` into data/sample/.

    python scripts/generate_sample.py                     # 3,000 complaints (the repo's sample)
    python scripts/generate_sample.py --complaints 1000000 --out /tmp/big   # the benchmark's

Complaints over forty weeks (more than nine months, so that with the default 90-day window
the repurchase report shows customers lost as well as won back) across agents, channels,
categories, locations and action kinds, most fully handled through LATTE, some resolved in a
system that only kept the resolution time, some still open; purchases before and (more often
after fast resolutions) after the complaints, as orders of one to three lines; follow-up
calls with NPS; updates sent to the customer on some open and some slow complaints (the
`updates` column). The same seed always gives the same files, byte for byte. Rows are written
as they are made: memory stays flat.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 1, 19, tzinfo=UTC)  # a Monday; forty weeks up to 2026-10-26
WEEKS = 40
LAST_DAY = datetime(2026, 11, 20, tzinfo=UTC)  # nothing in the sample is later than this
AGENTS = ["ana", "sam", "lee", "kim", "raj", "eva", "tom", "mia"]
CHANNELS = ["phone", "email", "chat", "in_person", "social", "web"]
CHANNEL_WEIGHTS = [30, 25, 20, 10, 5, 10]
CATEGORIES = ["delivery", "billing", "product", "service", "returns", "website"]
LOCATIONS = ["Paris", "Lyon", "Berlin", "Madrid", "Online"]
ACTIONS = ["refund", "replacement", "repair", "credit", "discount", "escalation",
           "explanation_only", "other"]  # fmt: skip
ACTION_WEIGHTS = [25, 20, 10, 10, 10, 5, 15, 5]
# What each remedy costs, in currency units (none for an explanation or an escalation).
ACTION_COST = {"refund": (5, 200), "replacement": (15, 120), "repair": (10, 80),
               "credit": (5, 50), "discount": (2, 30)}  # fmt: skip
CAUSES = ["product_defect", "delivery", "billing", "service", "policy", "communication",
          "customer_error", "other"]  # fmt: skip
# A few causes behind most complaints, as a Pareto chart expects; each category leans to its own.
CAUSE_WEIGHTS = [24, 20, 12, 10, 8, 12, 9, 5]
CATEGORY_CAUSE = {
    "delivery": "delivery", "billing": "billing", "product": "product_defect",
    "service": "service", "returns": "policy", "website": "communication",
}  # fmt: skip
CHANGES = {
    "product_defect": ["Supplier quality check on this batch", "Pull the faulty model from sale"],
    "delivery": ["Switch courier on this route", "Pack fragile items in double boxes",
                 "Send tracking links on dispatch"],
    "billing": ["Fix the double-charge bug in checkout", "Refunds paid within five days"],
    "service": ["Coaching for the shop team", "Call back within one day"],
    "policy": ["Extend the returns window to 60 days", "Explain the policy before purchase"],
    "communication": ["Rewrite the order confirmation email", "Show stock levels accurately"],
    "customer_error": ["Clearer instructions in the box"],
    "other": ["Review at the next team meeting"],
}  # fmt: skip
# A customer comes back with the same problem more often after these causes and slow handling.
REPEAT_CAUSES = {"product_defect": 0.22, "delivery": 0.12, "billing": 0.18, "communication": 0.1}
WORDS = {
    "delivery": ["My parcel arrived broken", "The delivery is two weeks late",
                 "The courier left it in the rain"],
    "billing": ["I was charged twice", "The invoice shows the wrong price",
                "My refund never arrived"],
    "product": ["The kettle stopped working after a week", "A part is missing from the box",
                "It is not the colour I ordered"],
    "service": ["Nobody answered my emails", "The staff in the shop were rude",
                "I was on hold for an hour"],
    "returns": ["The return label does not work", "You refused my return",
                "I returned it a month ago and heard nothing"],
    "website": ["I cannot log in", "Checkout fails at the payment step",
                "The site says in stock but it is not"],
}  # fmt: skip
COMPLAINT_FIELDS = [
    "external_id", "customer_ref", "customer_name", "customer_email", "channel", "category",
    "location", "severity", "summary", "listen", "agent", "opened_at", "acknowledged_at",
    "take_action_at", "thank_at", "explain_at", "resolved_at", "action_kind", "action_detail",
    "amount", "root_cause", "what_will_change", "updates",
]  # fmt: skip
FIRST = ["Ana", "Ben", "Chloé", "David", "Eva", "Farid", "Greta", "Hugo", "Inès", "Jonas",
         "Karim", "Lena", "Marta", "Nico", "Olga", "Pablo"]  # fmt: skip
LAST = ["Diaz", "Müller", "Martin", "Rossi", "Nowak", "Dubois", "García", "Schmidt", "Silva"]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(rng: random.Random, median: float) -> timedelta:
    return timedelta(minutes=max(1.0, rng.lognormvariate(0, 1.0) * median))


def _updates(rng: random.Random, opened: datetime, until: datetime) -> str:
    """One to three updates sent to the customer while the complaint was open, at least a day
    apart, joined by ";" as the import's `updates` column expects (README, "Import")."""
    days = int((until - opened).total_seconds() // 86400)
    if days < 1:
        return ""
    chosen = sorted(rng.sample(range(1, days + 1), min(days, rng.randint(1, 3))))
    return ";".join(iso(opened + timedelta(days=d, minutes=-rng.randint(5, 600))) for d in chosen)


def generate(out: Path, complaints: int, seed: int, lines_per_purchase: float = 1.8) -> None:
    rng = random.Random(seed)
    # Updates draw from their own generator, so adding them left the rest of the sample as it was.
    updates_rng = random.Random(seed * 1_000_003 + 1)
    out.mkdir(parents=True, exist_ok=True)
    customers = max(10, complaints // 2)
    span = WEEKS * 7 * 24 * 3600
    with (
        (out / "complaints.csv").open("w", encoding="utf-8", newline="") as cf,
        (out / "purchases.csv").open("w", encoding="utf-8", newline="") as pf,
        (out / "followups.csv").open("w", encoding="utf-8", newline="") as ff,
    ):
        complaints_out = csv.writer(cf, lineterminator="\n")
        purchases_out = csv.writer(pf, lineterminator="\n")
        followups_out = csv.writer(ff, lineterminator="\n")
        complaints_out.writerow(COMPLAINT_FIELDS)
        purchases_out.writerow(["order_ref", "customer_ref", "purchased_at", "amount"])
        followups_out.writerow(["complaint_external_id", "recorded_at", "reached", "satisfied",
                                "nps", "repurchased", "note"])  # fmt: skip
        order = 0

        def purchase(customer: str, at: datetime) -> None:
            nonlocal order
            order += 1
            lines = 1 + int(rng.random() * lines_per_purchase)
            for _ in range(lines):
                amount = f"{rng.randint(500, 15000) / 100:.2f}"
                purchases_out.writerow([f"O-{order:08d}", customer, iso(at), amount])

        # Customers due back with the same problem: (when, customer, category), earliest first.
        returning: list[tuple[datetime, int, str]] = []
        for number in range(1, complaints + 1):
            # Opened times rise through the period so files are in time order, as exports are.
            opened = START + timedelta(seconds=int(span * (number - rng.random()) / complaints))
            opened = opened.replace(microsecond=0)
            anonymous = False
            if returning and returning[0][0] <= opened:
                _, c, category = heapq.heappop(returning)
            else:
                c = rng.randrange(customers)
                anonymous = rng.random() < 0.05
                category = rng.choice(CATEGORIES)
            ref = f"C-{c:06d}"
            words = rng.choice(WORDS[category])
            if rng.random() < 0.1:
                words += ",\nand nobody called me back as promised."
            agent = rng.choice(AGENTS) if rng.random() > 0.04 else ""
            speed = rng.choice([20, 60, 240, 900])  # minutes: this complaint's pace
            ack = opened + _minutes(rng, speed / 4)
            act = ack + _minutes(rng, speed)
            thank = act + _minutes(rng, 5)
            explain = thank + _minutes(rng, 10)
            fate = rng.random()
            times: list[datetime | None] = [
                t if t <= LAST_DAY else None for t in (ack, act, thank, explain)
            ]
            resolved_only = None
            if fate < 0.06 and times[3]:
                times = [None, None, None, None]
                resolved_only = explain
            elif fate < 0.14:
                keep = rng.randrange(0, 4)
                times = [t if i < keep else None for i, t in enumerate(times)]
            action = rng.choices(ACTIONS, ACTION_WEIGHTS)[0] if times[1] else ""
            low, high = ACTION_COST.get(action, (0, 0))
            amount = f"{rng.randint(low, high)}.{rng.choice(['00', '50', '99'])}" if high else ""
            cause = ""
            if times[3]:
                cause = (CATEGORY_CAUSE[category] if rng.random() < 0.35
                         else rng.choices(CAUSES, CAUSE_WEIGHTS)[0])  # fmt: skip
            name = f"{FIRST[c % len(FIRST)]} {LAST[c % len(LAST)]}"
            ended = times[3] or resolved_only
            updates = ""
            if ended is None and updates_rng.random() < 0.4:
                updates = _updates(updates_rng, opened, LAST_DAY)
            elif ended and ended - opened > timedelta(days=2) and updates_rng.random() < 0.5:
                updates = _updates(updates_rng, opened, ended)
            complaints_out.writerow([
                f"S-{number:07d}",
                "" if anonymous else ref,
                "" if anonymous else name,
                "" if anonymous or c % 3 else f"{ref.lower()}@example.com",
                rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
                category,
                rng.choice(LOCATIONS),
                rng.choices(["low", "medium", "high", "critical"], [20, 50, 25, 5])[0],
                words.split(",")[0][:80],
                words,
                agent,
                iso(opened),
                *(iso(t) if t else "" for t in times),
                iso(resolved_only) if resolved_only else "",
                action,
                f"{action.replace('_', ' ').capitalize()} agreed with the customer" if action
                else "",
                amount,
                cause,
                rng.choice(CHANGES[cause]) if cause else "",
                updates,
            ])  # fmt: skip
            if anonymous:
                continue
            resolved_at = times[3] or resolved_only
            slow = resolved_at is not None and resolved_at - opened > timedelta(days=1)
            if resolved_at and rng.random() < REPEAT_CAUSES.get(cause, 0.05) * (1.5 if slow else 1):
                back = resolved_at + timedelta(days=rng.randint(1, 29), hours=rng.randint(0, 23))
                heapq.heappush(returning, (back, c, category))
            if rng.random() < 0.5:
                before = timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 23))
                purchase(ref, opened - before)
            resolved = times[3] or resolved_only
            if resolved is None:
                continue
            hours = (resolved - opened).total_seconds() / 3600
            fast = hours < 4
            if rng.random() < (0.8 if fast else 0.45):
                later = resolved + timedelta(days=rng.randint(2, 80), hours=rng.randint(0, 23))
                purchase(ref, min(later, LAST_DAY - timedelta(hours=rng.randint(1, 300))))
            if rng.random() < 0.6:
                called = (resolved + timedelta(days=3, hours=rng.randint(0, 8))).replace(second=0)
                reached = rng.random() < 0.85
                satisfied = reached and rng.random() < (0.85 if fast else 0.55)
                nps = ""
                if reached:
                    nps = str(min(10, max(0, round(rng.gauss(8.5 if satisfied else 4, 1.8)))))
                followups_out.writerow([
                    f"S-{number:07d}", iso(called), "yes" if reached else "no",
                    ("yes" if satisfied else "no") if reached else "",
                    nps,
                    rng.choice(["yes", "no", ""]) if reached else "",
                    "Left a voicemail" if not reached else "",
                ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "data/sample")
    args = parser.parse_args()
    generate(args.out, args.complaints, args.seed)
    print(f"Wrote {args.complaints} complaints with purchases and follow-ups to {args.out}")


if __name__ == "__main__":
    main()
