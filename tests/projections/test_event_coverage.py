"""Every projection names every stored event type (issue 9): the classes it handles
(``handlers``) and the ones it explicitly ignores (``ignores``). A projection that
subscribes to something that is not a stored event type, or that neither handles nor
ignores a stored event type (a new event added to an aggregate, say), fails here, so a
view cannot silently miss the facts it should read.

The stored event types are every event class the model's aggregates declare, found as
tests/test_event_schema.py finds them (each has a stored sample there)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from eventsourcing.utils import get_topic, resolve_topic

from ledger.domain import model
from ledger.domain.events import stored_event_classes, topics
from ledger.domain.model import Customer, Rep
from ledger.projections import ALL_PROJECTIONS
from ledger.projections.kpis import KpisProjection
from ledger.projections.common import Dispatching

KEPT = [*ALL_PROJECTIONS, KpisProjection]  # the live set, and the one tests build


def stored_types() -> set[type]:
    """Every event class of the model (the scan of test_event_schema.current_event_topics)."""
    found = set()
    for name in model.__all__:
        for attr, value in vars(getattr(model, name)).items():
            if isinstance(value, type) and attr != "Created" and getattr(value, "TOPIC", None):
                found.add(value)
    return found


def coverage_problems(projection: type[Dispatching], stored: set[type]) -> list[str]:
    """What is wrong with a projection's event coverage (empty when nothing is)."""
    handled, ignored = set(projection.handlers), set(projection.ignores)
    name = projection.__name__
    problems = [f"{name} subscribes to {c!r}, not a stored event type"
                for c in handled - stored]
    problems += [f"{name} ignores {c!r}, not a stored event type" for c in ignored - stored]
    problems += [f"{name} both handles and ignores {c.__qualname__}" for c in handled & ignored]
    problems += [f"{name} neither handles nor ignores {c.__qualname__}"
                 for c in sorted(stored - handled - ignored, key=get_topic)]
    problems += [f"{name} handles {c.__qualname__} with {m!r}, which it does not define"
                 for c, m in projection.handlers.items() if not callable(getattr(projection, m, None))]
    return problems


def test_the_stored_event_types_are_the_domains_vocabulary():
    assert set(stored_event_classes()) == stored_types()
    assert len(stored_types()) == 37
    for c in stored_types():  # each topic resolves to its class (what the mapper loads)
        assert resolve_topic(get_topic(c)) is c


@pytest.mark.parametrize("projection", KEPT, ids=lambda p: p.__name__)
def test_each_projection_handles_or_ignores_every_stored_event_type(projection):
    assert issubclass(projection, Dispatching)
    assert coverage_problems(projection, stored_types()) == []


@pytest.mark.parametrize("projection", KEPT, ids=lambda p: p.__name__)
def test_the_topics_a_projection_reads_are_those_of_its_handled_classes(projection):
    assert projection.topics == topics(*projection.handlers)
    assert all(resolve_topic(t) in stored_types() for t in projection.topics)


class _Planted(Dispatching):
    """A projection with planted mistakes: it forgets Rep.Fined, subscribes to an event
    class no aggregate stores, and both handles and ignores a return."""

    class NotStored:
        TOPIC = "test:NotStored"

    name = "planted"
    tables: ClassVar[dict[str, str]] = {}
    handlers: ClassVar[dict[type, str]] = {
        Customer.SaleRecorded: "_any", Customer.ReturnRecorded: "_any", NotStored: "_any",
    }
    ignores: ClassVar[frozenset[type]] = frozenset(
        c for c in stored_event_classes()
        if c not in (Customer.SaleRecorded, Rep.Fined)
    )

    def _any(self, sql: Any, position: int, e: Any) -> None:
        pass


def test_a_planted_omission_is_found():
    problems = coverage_problems(_Planted, stored_types())
    assert problems == [
        f"_Planted subscribes to {_Planted.NotStored!r}, not a stored event type",
        "_Planted both handles and ignores Customer.ReturnRecorded",
        "_Planted neither handles nor ignores Rep.Fined",
    ]
