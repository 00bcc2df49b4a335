"""Layer 1: schema.org data embedded in the HTML (JSON-LD `Order` / `Invoice`, microdata `price`).

When a sender took the trouble to embed machine-readable facts they are the most
reliable ones in the message, so they win over patterns. Only a handful of
fields are read; regular expressions find the blocks (no HTML parse on the hot path).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision

NAME = "structured@1"
CONFIDENCE = 0.95

_JSONLD = re.compile(
    r"<script[^>]+type=[\"']application/ld\+json[\"'][^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL
)
_MICRO = re.compile(
    r"itemprop=[\"'](price|priceCurrency|name|orderDate|paymentDueDate)[\"'][^>]*?content=[\"']([^\"']+)[\"']",
    re.IGNORECASE,
)


@dataclass
class Structured:
    amount_minor: int | None = None
    currency: str | None = None
    occurred_on: str | None = None
    service_name: str | None = None
    seller: str | None = None
    next_renewal_on: str | None = None


def _minor(price: Any, currency: str | None) -> int | None:
    try:
        value = Decimal(str(price).replace(",", "."))
        return int(value * (Decimal(10) ** get_currency_precision(currency or "EUR")))
    except (InvalidOperation, ValueError, TypeError):
        return None


def _day(value: Any) -> str | None:
    text = str(value or "")
    return text[:10] if re.match(r"\d{4}-\d{2}-\d{2}", text) else None


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return str(value).strip() or None if value else None


def _items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [i for d in data for i in _items(d)]
    if isinstance(data, dict):
        if "@graph" in data:
            return _items(data["@graph"])
        return [data]
    return []


def _from_order(item: dict[str, Any]) -> Structured:
    offers = item.get("acceptedOffer") or item.get("offers") or {}
    offer = offers[0] if isinstance(offers, list) and offers else offers
    offer = offer if isinstance(offer, dict) else {}
    currency = item.get("priceCurrency") or offer.get("priceCurrency")
    price = item.get("price", offer.get("price"))
    return Structured(
        amount_minor=_minor(price, currency) if price is not None else None,
        currency=str(currency).upper() if currency else None,
        occurred_on=_day(item.get("orderDate")),
        service_name=_name(offer.get("itemOffered")),
        seller=_name(item.get("seller") or item.get("merchant")),
    )


def _from_invoice(item: dict[str, Any]) -> Structured:
    due = item.get("totalPaymentDue") or item.get("minimumPaymentDue") or {}
    due = due if isinstance(due, dict) else {"price": due}
    currency = due.get("priceCurrency") or item.get("priceCurrency")
    price = due.get("price", due.get("value"))
    return Structured(
        amount_minor=_minor(price, currency) if price is not None else None,
        currency=str(currency).upper() if currency else None,
        occurred_on=_day(item.get("paymentDueDate") or item.get("billingPeriod")),
        service_name=_name(item.get("description") or item.get("referencesOrder")),
        seller=_name(item.get("provider") or item.get("broker")),
    )


def read(html: str | None) -> Structured | None:
    """schema.org facts in an HTML body, or None when there are none."""
    if not html or "schema.org" not in html:
        return None
    for block in _JSONLD.findall(html):
        try:
            data = json.loads(block.strip())
        except ValueError:
            continue
        for item in _items(data):
            kind = str(item.get("@type", ""))
            if kind == "Order":
                return _from_order(item)
            if kind == "Invoice":
                return _from_invoice(item)
    micro = {k.lower(): v for k, v in _MICRO.findall(html)}
    if "price" in micro:
        currency = micro.get("pricecurrency")
        return Structured(
            amount_minor=_minor(micro["price"], currency),
            currency=currency.upper() if currency else None,
            occurred_on=_day(micro.get("orderdate") or micro.get("paymentduedate")),
            service_name=micro.get("name"),
        )
    return None
