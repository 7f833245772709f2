"""What the summaries kept at write time are keyed by (docs/architecture.md, "Storage"): the
dimensions a report groups by with the complaint column of each, the stored stand-in for no
value, and UTC days. The report summary (`summary`) and the deadlines kept per day
(`deadline_days`) both read them from here.
"""

from __future__ import annotations

from datetime import date

DAY = 86_400
# dimension -> complaint column (the report_change column of the same value)
DIMENSIONS = {
    "agent": "assigned_agent",
    "channel": "channel",
    "category": "category",
    "location": "location",
}
CHANGE_COLUMNS = ("agent", "channel", "category", "location")
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# A complaint without a value (no agent, no location) is stored under "", which no value can be.
NONE = ""
