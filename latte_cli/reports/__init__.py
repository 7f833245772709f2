"""Supervisor reports: metric queries (SQL aggregates) turned into frozen result dataclasses.

Every figure follows docs/metrics.md; `definitions.py` states each one's definition, clock and
exclusions in words, and `latte report ... --explain` prints them under the report.

How the work is split between the database and Python:
- Counts and sums are grouped in SQL over the integer `*_epoch` columns, with the period (or
  ISO week) computed in SQL from the epoch: a CASE over the report zone's UTC-offset changes
  (found in Python with zoneinfo) is added to the epoch before integer division into weeks.
  That is portable to SQLite and PostgreSQL and never parses a timestamp per row.
- Percentiles need the values themselves: SQL returns per-group integer durations (never ORM
  objects), and Python sorts them and interpolates (the "inclusive" method).
- Business hours are computed in Python over the period's integer epochs only.
"""
