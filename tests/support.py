"""Building blocks for tests: a company with its users, and command constructors."""

from __future__ import annotations

import itertools
from typing import Any

from ledger.application import Ledger

_ids = itertools.count(1)

# Users of the standard test company and their roles.
USERS = {
    "fin": ["finance"],
    "fin2": ["finance"],
    "dir": ["director"],
    "dir2": ["director"],
    "mgr": ["manager"],
    "mgr2": ["manager"],
    "sa": ["sales_admin"],
    "svc": ["service"],
    "aud": ["auditor"],
    "rep_user": ["sales_rep"],
}

T0 = "2024-03-05T10:00:00+08:00"


def cmd(command: str, actor: str, /, **fields: Any) -> dict[str, Any]:
    body = {"command": command, "command_id": f"{command}-{next(_ids)}", "actor": actor}
    body.update(fields)
    return body


def at(day: str, time: str = "10:00:00") -> dict[str, str]:
    """occurred_at and reported_at for a business date in company time (+08:00)."""
    stamp = f"{day}T{time}+08:00"
    return {"occurred_at": stamp, "reported_at": stamp}


def applied(ledger: Ledger, body: dict[str, Any]) -> dict[str, Any]:
    answer = ledger.execute_one(body)
    assert answer["status"] == "applied", answer
    return answer


def rejected(ledger: Ledger, body: dict[str, Any], rule: str) -> dict[str, Any]:
    answer = ledger.execute_one(body)
    assert answer["status"] == "rejected", answer
    assert answer["rule"] == rule, answer
    return answer


def setup_company(ledger: Ledger, *, credit_limit: int = 10_000_000, list_price: int = 10_000) -> None:
    """Users, one customer C1 (terms 30 days), reps R1 (trainer) and R2 (trained by R1,
    user rep_user), and SKU X at ``list_price`` fen from 2024-01-01."""
    batch = [cmd("RegisterUser", "admin", user_id=u, name=u.upper(), roles=r) for u, r in USERS.items()]
    batch += [
        cmd("RegisterCustomer", "sa", customer_id="C1", name="Acme", credit_limit=credit_limit,
            payment_terms_days=30, region="east"),
        cmd("RegisterCustomer", "sa", customer_id="C2", name="Beta", credit_limit=credit_limit,
            payment_terms_days=30, region="west"),
        cmd("RegisterRep", "sa", rep_id="R1", name="Trainer", region="east", rank="SM"),
        cmd("RegisterRep", "sa", rep_id="R2", name="Trainee", region="east", trainer_id="R1",
            user_id="rep_user"),
        cmd("SetListPrice", "sa", sku="X", unit_price=list_price, effective_from="2024-01-01",
            approved_by="dir"),
    ]
    for answer in ledger.execute(batch):
        assert answer["status"] == "applied", answer


def sale(sale_id: str, quantity: int = 1, unit_price: int = 10_000, *, customer: str = "C1",
         rep: str = "R2", day: str = "2024-03-05", actor: str = "sa", **extra: Any) -> dict[str, Any]:
    return cmd("RecordSale", actor, sale_id=sale_id, customer_id=customer, rep_id=rep,
               invoice_no=f"INV-{sale_id}",
               lines=[{"sku": "X", "quantity": quantity, "unit_price": unit_price}],
               **at(day), **extra)


# --- reading what a command stored (added for the per-command rule tests) -----------------

BOOKKEEPING_TOPICS = ("ledger:CommandRecord.Recorded", "ledger:CommandRecord.RecordedFor",
                      "ledger:Claim.Claimed")


def events_after(ledger: Ledger, position: int) -> list[Any]:
    """The domain events stored after log ``position``, in log order."""
    notes = ledger.app.recorder.select_notifications(start=position + 1, limit=10_000)
    return [ledger.app.mapper.to_domain_event(n) for n in notes]


def facts_after(ledger: Ledger, position: int) -> list[Any]:
    """Like ``events_after`` without command records and id claims: the business facts."""
    notes = ledger.app.recorder.select_notifications(start=position + 1, limit=10_000)
    return [ledger.app.mapper.to_domain_event(n) for n in notes if n.topic not in BOOKKEEPING_TOPICS]


def topic_of(event: Any) -> str:
    """``Customer.SaleRecorded`` for an event stored under ``ledger:Customer.SaleRecorded``."""
    return type(event).__qualname__


def refused(ledger: Ledger, body: dict[str, Any], rule: str, **details: Any) -> dict[str, Any]:
    """Assert ``body`` is rejected with ``rule``, that every given detail has the given
    value, and that the rejected command stored no event (the log did not move)."""
    before = ledger.max_position()
    answer = rejected(ledger, body, rule)
    for key, value in details.items():
        assert answer["details"].get(key) == value, (key, answer)
    assert ledger.max_position() == before, answer
    return answer


def customer_state(ledger: Ledger, customer_id: str) -> Any:
    """The stored Customer aggregate (receivables sub-ledger and customer credit)."""
    from ledger.domain.model import Customer

    return ledger.app.repository.get(Customer.create_id(customer_id))


def budget_state(ledger: Ledger, budget_id: str) -> Any:
    """The stored Budget aggregate (figures and expenses)."""
    from ledger.domain.model import Budget

    return ledger.app.repository.get(Budget.create_id(budget_id))


def all_applied(ledger: Ledger, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a batch and assert every command of it was applied."""
    answers = ledger.execute(bodies)
    for answer in answers:
        assert answer["status"] == "applied", answer
    return answers
