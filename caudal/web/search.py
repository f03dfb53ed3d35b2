"""Global search: one box for account number, document, meter serial, name and address.

Built to stay fast with millions of accounts; every step is bounded:

======================  =========================================  ===================
what the user typed     how it is looked up                        index
======================  =========================================  ===================
account number          exact match                                ``Account.number``
                                                                   (unique)
account number prefix   range ``number >= q AND number < q⁺``       same unique index
                        (LIMIT 50; only for a single token)
identity document       exact match on ``Customer.doc_number``      ``customer_doc_number``
meter serial            exact match on ``Meter.serial``             ``meter_serial``
customer name           every word, case- and accent-insensitive    FTS5 (SQLite) / GIN
                        (LIMIT 50)                                  trigram (PostgreSQL),
                                                                    see ``search_index``
address                 same as name (LIMIT 50)                     same
======================  =========================================  ===================

Not indexed, on purpose: substring search inside account numbers, documents or serials
(staff type those from a bill or an ID card, in full), e-mail and phone numbers.
On SQLite names and addresses match by word prefix (``ros quis`` → "Rosa Quispe"); on
PostgreSQL by substring (``ispe`` → "Quispe"; words of 3+ letters use the trigram index,
shorter ones only narrow the search). Every word must match.
If the search index is missing (see ``search_index``), names and addresses are searched by
an unindexed ``icontains`` scan, still capped at LIMIT 50.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Func, Prefetch, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from caudal.cadastre.models import Account, Connection, Customer, Property

from . import search_index

log = logging.getLogger(__name__)

StrOrPromise = str | Promise

LIMIT = 50

MATCH_NUMBER = _("Account number")
MATCH_PREFIX = _("Account number (starts with)")
MATCH_DOCUMENT = _("Identity document")
MATCH_METER = _("Meter serial")
MATCH_NAME = _("Customer name")
MATCH_ADDRESS = _("Address")

_index_ok: dict[str, bool] = {}


def fold(text: str) -> str:
    """Lower case without accents: what ``caudal_fold`` and FTS5 ``unicode61`` do."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold(text))


class Fold(Func):
    function = "caudal_fold"
    output_field = TextField()


@dataclass
class Hit:
    account: Account
    matched: str


@dataclass
class SearchResults:
    query: str
    hits: list[Hit] = field(default_factory=list)
    exact: Account | None = None
    truncated: bool = False
    too_short: bool = False

    def __bool__(self) -> bool:
        return bool(self.hits)


def index_available() -> bool:
    """Whether the name/address search index exists (checked once per process)."""
    key = connection.alias + ":" + connection.settings_dict.get("NAME", "")
    if key not in _index_ok:
        _index_ok[key] = search_index.is_installed(connection)
        if not _index_ok[key]:
            log.warning("search index missing: run `caudal rebuild-search-index`")
    return _index_ok[key]


def forget_index_state() -> None:
    _index_ok.clear()


def _prefix_upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _text_ids(
    model: type[Customer] | type[Property], column: str, terms: list[str]
) -> RawSQL | QuerySet:
    """A subquery of ids of ``model`` rows whose ``column`` matches every term (LIMIT 51)."""
    if index_available():
        if connection.vendor == "sqlite":
            fts = "web_customer_fts" if model is Customer else "web_property_fts"
            match = " ".join(f'"{t}"*' for t in terms)  # word prefixes (indexed: 1-3 letters)
            # Table names are constants and the match expression is a bound parameter.
            sql = f"SELECT rowid FROM {fts} WHERE {fts} MATCH %s LIMIT {LIMIT + 1}"
            return RawSQL(sql, [match])  # noqa: S611
        if connection.vendor == "postgresql":
            qs = model.objects.annotate(folded=Fold(column))
            for term in terms:
                qs = qs.filter(folded__contains=term)
            return qs.values("pk")[: LIMIT + 1]
    plain: QuerySet = model.objects.all()
    for term in terms:
        plain = plain.filter(**{f"{column}__icontains": term})
    return plain.values("pk")[: LIMIT + 1]


def _accounts() -> QuerySet[Account]:
    return Account.objects.select_related("customer", "property").only(
        "id",
        "number",
        "category",
        "segment",
        "customer__name",
        "customer__doc_type",
        "customer__doc_number",
        "property__address",
    )


def exact_account(query: str) -> Account | None:
    q = query.strip()
    if not q or len(q) > 20:
        return None
    return Account.objects.filter(number=q).only("id", "number").first()


def search(query: str, *, limit: int = LIMIT) -> SearchResults:
    """Run the global search. A constant number of queries (at most 7) whatever the data."""
    q = " ".join(query.split())
    results = SearchResults(query=q)
    if not q:
        return results
    terms = words(q)
    token = q if " " not in q else ""
    found: dict[int, str] = {}
    order: list[int] = []

    def add(ids: list[int], label: StrOrPromise) -> None:
        for pk in ids:
            if pk not in found:
                found[pk] = str(label)
                order.append(pk)

    if token and len(token) <= 20:
        exact = list(Account.objects.filter(number=token).values_list("id", flat=True))
        add(exact, MATCH_NUMBER)
        add(
            list(
                Account.objects.filter(customer__doc_number=token).values_list("id", flat=True)[
                    : limit + 1
                ]
            ),
            MATCH_DOCUMENT,
        )
        add(
            list(
                Account.objects.filter(meters__serial=token).values_list("id", flat=True)[
                    : limit + 1
                ]
            ),
            MATCH_METER,
        )
        if token.isalnum():
            add(
                list(
                    Account.objects.filter(number__gte=token, number__lt=_prefix_upper_bound(token))
                    .order_by("number")
                    .values_list("id", flat=True)[: limit + 1]
                ),
                MATCH_PREFIX,
            )
    has_letters = any(not t.isdigit() for t in terms)
    if has_letters:
        if len("".join(terms)) < 3:
            results.too_short = not found
        else:
            if index_available():
                search_index.catch_up(connection)  # index customers added since last time
            add(
                list(
                    Account.objects.filter(
                        customer_id__in=_text_ids(Customer, "name", terms)
                    ).values_list("id", flat=True)[: limit + 1]
                ),
                MATCH_NAME,
            )
            if len(order) <= limit:
                add(
                    list(
                        Account.objects.filter(
                            property_id__in=_text_ids(Property, "address", terms)
                        ).values_list("id", flat=True)[: limit + 1]
                    ),
                    MATCH_ADDRESS,
                )
    results.truncated = len(order) > limit
    wanted = order[:limit]
    if not wanted:
        return results
    rows = (
        _accounts()
        .prefetch_related(
            Prefetch(
                "connections",
                queryset=Connection.objects.only("id", "account_id", "service", "status"),
            )
        )
        .in_bulk(wanted)
    )
    results.hits = [Hit(rows[pk], found[pk]) for pk in wanted if pk in rows]
    if results.hits and found[results.hits[0].account.pk] == str(MATCH_NUMBER):
        results.exact = results.hits[0].account
    return results
