"""Who a customer is: the one rule for cleaning identifiers and matching a customer.

Both the agent's path (`services.customers`) and the importer (`importer.customers`) call this
module; it does no I/O. The stored customer carries a key per identifier (`ref_key`,
`email_key`, `phone_key`, `name_key`), written by `keys_of` whenever the customer is created or
changed, so SQLite and PostgreSQL compare the same strings and never rely on the store's own
`lower()` (ASCII-only in SQLite).

Cleaning (`clean`), for every value a user or a file gives: Unicode NFKC (full-width letters
and digits, ligatures and compatibility forms become their plain form), zero-width and
bidirectional-control characters removed, surrounding whitespace stripped. What is stored is the
cleaned value, so `C-ZW1` and `C-ZW1` followed by a zero-width space are one ref.

Keys:
- ref: the cleaned ref, case kept: refs come from other systems, some of which issue ids that
  differ only by case.
- email: the cleaned address, case-folded (`str.casefold`, correct for every script).
- phone: the digits (any script's decimal digits, as ASCII), with a leading `+` kept because it
  means an international number; spaces, dots, dashes and brackets are layout. `0033 1` and
  `+33 1` stay different: telling a trunk prefix from a number needs the country.
- name: case-folded and with diacritics folded (`Zoë` and `zoe`, `Łuk` and `luk`, `ß` and `SS`
  give the same key), inner whitespace collapsed. Search uses the same fold, so a search for
  "łuk", "ŁUK", "luk" or "zoe" finds "Zoë O'Brien-Łukasiewicz". The fold is lenient on purpose
  (in Cyrillic it also takes й to и): a name never matches on its own.

Matching (`CustomerIndex.match`), first rule that finds someone wins, lowest id first:
1. the same ref;
2. the same email, unless both carry refs (then the refs differ: two customers sharing an
   address, a family or a shop);
3. the same name and the same phone, when both are given and no ref or email on both sides
   disagrees;
4. details without ref or email match a stored customer without ref or email whose name and
   phone keys are exactly equal (a missing phone equals only a missing phone).

A name alone never matches a customer known by more: two people called Ana are different
people, and merging them would show one the other's history (the importer used to do it).
Rule 4 keeps a narrow form of it: such records carry nothing that could tell two people apart,
and without it re-importing the same file would add a customer per row each time. A phone
alone is treated the same way (a shared line is no identity either). Existing customers that
collide under these keys are never merged automatically: `latte db check` lists them.

A forgotten customer's ref is a pseudonym (`PSEUDONYM_PREFIX` and random hex digits, given by
`latte customer forget`): `is_pseudonym` is the one test of it. Its data was erased, so no
merge, edit or new detail may give it an identity again (docs/architecture.md, "Customer
data").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

ZERO_WIDTH = (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)
BIDI_CONTROLS = (0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
INVISIBLE = dict.fromkeys((*ZERO_WIDTH, *BIDI_CONTROLS))
# Letters with a stroke do not decompose into a base letter and a mark.
UNSTROKED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ŀ": "l"})
PHONE_LAYOUT = re.compile(r"[\s\d+\-.()/]*")
MIN_PHONE_SEARCH_DIGITS = 3
PSEUDONYM_PREFIX = "forgotten-"


def is_pseudonym(ref: str | None) -> bool:
    """Whether `ref` is a forgotten customer's pseudonym (or looks like one)."""
    return (clean(ref) or "").startswith(PSEUDONYM_PREFIX)


def clean(value: str | None) -> str | None:
    """`value` in NFKC, without invisible characters or surrounding whitespace; None if blank."""
    if value is None:
        return None
    if not value.isascii():  # ASCII is NFKC already and holds no invisible characters
        value = unicodedata.normalize("NFKC", value).translate(INVISIBLE)
    return value.strip() or None


def email_key(email: str | None) -> str | None:
    email = clean(email)
    return email.casefold() if email else None


def phone_key(phone: str | None) -> str | None:
    """The digits of `phone` as ASCII, after a `+` if it starts with one; None without digits."""
    phone = clean(phone)
    if not phone:
        return None
    if phone.isascii():
        digits = "".join(c for c in phone if c.isdigit())
    else:
        digits = "".join(str(unicodedata.decimal(c)) for c in phone if c.isdecimal())
    if not digits:
        return None
    return f"+{digits}" if phone.startswith("+") else digits


@lru_cache(maxsize=65_536)  # names repeat across a batch; the Unicode folding is slow
def fold(text: str | None) -> str | None:
    """`text` case-folded, diacritics folded and inner whitespace collapsed: the name key."""
    text = clean(text)
    if not text:
        return None
    if text.isascii():  # the common case, and a fast one: nothing to decompose
        return " ".join(text.lower().split()) or None
    folded = unicodedata.normalize("NFKD", " ".join(text.casefold().split()))
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.translate(UNSTROKED)) or None


@dataclass(frozen=True)
class Keys:
    ref: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None

    @property
    def by_name_and_phone(self) -> bool:
        """Whether name and phone can name the customer (rules 3 and 4)."""
        return bool(self.name and self.phone) or not (self.ref or self.email)


def keys_of(*, ref: str | None, email: str | None, phone: str | None, name: str | None) -> Keys:
    return Keys(ref=clean(ref), email=email_key(email), phone=phone_key(phone), name=fold(name))


@dataclass(frozen=True)
class SearchTerms:
    """What a search text looks for in each key column (as substrings)."""

    ref: str
    email: str
    name: str
    phone: str | None


def search_terms(text: str) -> SearchTerms | None:
    """The search text as each key column stores it; None for a blank search."""
    cleaned = clean(text)
    if not cleaned:
        return None
    digits = phone_key(cleaned)
    looks_like_phone = PHONE_LAYOUT.fullmatch(cleaned) is not None
    phone = digits.lstrip("+") if digits and looks_like_phone else None
    if phone is not None and len(phone) < MIN_PHONE_SEARCH_DIGITS:
        phone = None
    return SearchTerms(
        ref=cleaned, email=cleaned.casefold(), name=fold(cleaned) or cleaned, phone=phone
    )


class CustomerIndex:
    """Stored customers by key, so that a batch matches in memory with one rule.

    Ids are opaque (the importer uses placeholders for customers it has yet to insert); among
    customers the same rule finds, the one added first wins, so add stored ones in id order.
    """

    def __init__(self, known: Iterable[tuple[int, Keys]] = ()) -> None:
        self.keys: dict[int, Keys] = {}
        # Each key's customers in the order added (a dict as an ordered set).
        self._by: dict[tuple[str, object], dict[int, None]] = {}
        for customer_id, keys in known:
            self.add(customer_id, keys)

    def add(self, customer_id: int, keys: Keys) -> None:
        """Index a customer, or re-index one whose keys were filled in."""
        self.keys[customer_id] = keys
        for entry in self._entries(keys):
            self._by.setdefault(entry, {})[customer_id] = None

    @staticmethod
    def _entries(keys: Keys) -> list[tuple[str, object]]:
        entries: list[tuple[str, object]] = []
        if keys.name or keys.phone:  # details without either never look this entry up
            entries.append(("name_phone", (keys.name, keys.phone)))
        if keys.ref:
            entries.append(("ref", keys.ref))
        if keys.email:
            entries.append(("email", keys.email))
        return entries

    def match(self, given: Keys) -> int | None:
        """The id of the customer `given` names, None if it names no stored customer."""
        same_ref = self._by.get(("ref", given.ref)) if given.ref else None
        if same_ref:
            return next(iter(same_ref))
        if given.email:
            for customer_id in self._by.get(("email", given.email), {}):
                if not (given.ref and self.keys[customer_id].ref):
                    return customer_id
        if not given.by_name_and_phone:
            return None
        bare = not (given.ref or given.email)
        for customer_id in self._by.get(("name_phone", (given.name, given.phone)), {}):
            stored = self.keys[customer_id]
            if bare and not (stored.ref or stored.email):
                return customer_id
            if (
                given.name
                and given.phone
                and not (_disagree(stored.ref, given.ref) or _disagree(stored.email, given.email))
            ):
                return customer_id
        return None


def _disagree(stored: str | None, given: str | None) -> bool:
    return stored is not None and given is not None and stored != given
