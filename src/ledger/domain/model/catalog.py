"""List prices by SKU with their effective dates (SPEC 2.1 Price policy)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import aggregate_id


class Sku(Aggregate):
    TOPIC = "ledger:Sku"
    KIND = "sku"

    class Created(Aggregate.Created):
        TOPIC = "ledger:Sku.Created"

    @staticmethod
    def create_id(sku: str) -> UUID:
        return aggregate_id(Sku.KIND, sku)

    class Opened(Aggregate.Created):
        TOPIC = "ledger:Sku.Opened"
        sku: str

    @event(Opened)
    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.prices: list[tuple[date, int]] = []

    def price_on(self, day: date) -> int | None:
        """The list price in force on ``day``: the latest effective_from <= day."""
        best: tuple[date, int] | None = None
        for effective_from, price in self.prices:
            if effective_from <= day and (best is None or effective_from >= best[0]):
                best = (effective_from, price)
        return best[1] if best else None

    class ListPriceSet(Aggregate.Event):
        TOPIC = "ledger:Sku.ListPriceSet"
        unit_price: int
        effective_from: str
        approved_by: str
        meta: dict[str, Any]

    @event(ListPriceSet)
    def set_list_price(self, unit_price: int, effective_from: str, approved_by: str,
                       meta: dict[str, Any]) -> None:
        self.prices.append((date.fromisoformat(effective_from), unit_price))
