"""The stored event vocabulary (ARCHITECTURE, Domain; issue 9).

Every stored event is a class declared once, with its stable ``TOPIC``, in the aggregate
that records it (``Customer.SaleRecorded``, ``Rep.CommissionAccrued`` ...). Code that reads
the log names those classes, never their topic strings: ``topics`` turns classes into the
topic strings a log read filters on, ``stored_event_classes`` lists the whole vocabulary.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic

from ledger.domain import model


def topics(*classes: type) -> tuple[str, ...]:
    """The topics of event classes, in the given order (what a log read filters on)."""
    return tuple(get_topic(c) for c in classes)


def stored_event_classes() -> tuple[type, ...]:
    """Every event class an aggregate of the model records, in declaration order. Each
    aggregate also declares a placeholder ``Created`` class (explicit topics need one)
    but names its own creation event, so ``Created`` is never stored and is not listed."""
    found: list[type] = []
    for name in model.__all__:
        for attr, value in vars(getattr(model, name)).items():
            if isinstance(value, type) and attr != "Created" and getattr(value, "TOPIC", None):
                found.append(value)
    return tuple(found)


def event_fields(cls: type) -> frozenset[str]:
    """The fields an event class declares (its own and its bases'), so code that reads
    events generically (the audit trail) knows what a class holds without probing each
    event. An upcaster gives an old event every field its class declares."""
    return frozenset(name for klass in cls.__mro__
                     for name in getattr(klass, "__annotations__", {}))
