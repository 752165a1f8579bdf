"""Audit trail projection (SPEC 2.6, SPEC 3 Audit trail, SPEC 5.3 ``audit``).

Every decision and fact in the log becomes one entry: the event, the command and command
id that caused it, the actor and the roles they held, the approvers (a sale lists its
price approver and its credit approver) and theirs, the reason, the policy versions the
decision was taken under (``policy_version``: ``"name=version"`` pairs of every policy it
consulted, ``approvals`` included, joined by commas; null for a plain fact such as a payment;
``policies``: the same as a mapping, plus the ``reporting`` version that decided ``late``),
the occurred / reported / recorded times, and ``late``: reported
more than ``reporting.late_after_hours`` after it occurred (SPEC 2.6): the flag and the
reporting policy version the domain recorded in the event's ``meta``; for an event recorded
before ``meta`` carried them, the same rule (``is_late``) under the reporting policy in force
on its business date as the log knew it then. A command's record (its answer) is not an
entry: ``query_command`` shows it with the events the command produced.

Entries are indexed by every entity id the event is about, so ``audit --entity ID``
is one indexed read:

=========================  ==========================================================
event                      entities
=========================  ==========================================================
User.Registered            the user
Customer.*                 the customer; a sale: its sale, rep and invoice; a return,
                           write-off: the return / write-off, its sale and that sale's
                           rep; a payment: the payment and every sale it settled
Rep.*                      the rep; registration: its trainer and user; a fine or
                           payout: its id
Sku.ListPriceSet           the SKU
Budget.*                   the budget; expense events: the expense
Dispute.*                  the dispute and the entity it disputes
*Reversed (SPEC 2.7)       the reversal, the command it reverses, the reversed payment,
                           fine, payout or expense, the sales a payment's reversal
                           reopens, and its customer, rep or budget
PolicyBook.PolicyAdopted   the policy's name and the version id
Closings.MonthClosed       the period
ApprovalGrants.*           a grant and its use: the approval_id and the subject it
                           approves (a sale, customer, SKU, return, budget ... id)
=========================  ==========================================================

Tables (``audit_<table>_g<n>``): ``entries`` (one per event), ``entities`` (entity id ->
position), ``approvals`` (each approver of an entry with the roles they held), ``ways``
(how each approval was given, SPEC 1 Approvals: ``attested`` or ``granted`` with the
grant's id, from the event's ``meta["approvals"]``; each entry's ``approvals``), and the
lookups the indexing needs, each read once per id (``Memo``): ``origins`` (aggregate id ->
business id), ``users`` (roles), ``reps`` (each rep's own user, for segregation-of-duty
checks), ``sales`` (a sale's customer and rep), ``expenses`` (an expense's submitter); and
``policies``. Applying an event is one INSERT of its entry and one of its index rows (plus
its approvals, if any).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from ledger.domain.authority import bootstrap_roles
from ledger.domain.calendar import business_date, parse_instant
from ledger.domain.events import event_fields
from ledger.domain.model import (
    ApprovalGrants,
    Budget,
    Claim,
    Closings,
    CommandRecord,
    Customer,
    Dispute,
    PolicyBook,
    Rep,
    Sku,
    User,
)
from ledger.domain.policies import PLAN_POLICY
from ledger.domain.reporting import is_late
from ledger.projections.common import (
    POLICY_TABLE,
    Dispatching,
    Memo,
    from_json,
    parse_as_of,
    policy_in_force,
    record_policy,
    to_json,
)
from ledger.projections.engine import Projector, Sql
from ledger.projections.errors import unknown
from ledger.projections.receivables import projection_of

# Fields of an event that are not its business content.
_NOT_DETAILS = frozenset({"meta", "timestamp", "originator_id", "originator_version",
                          "originator_topic"})


class AuditProjection(Dispatching):
    name = "audit"
    handlers: ClassVar[dict[type, str]] = {
        User.Registered: "_user",
        Customer.Registered: "_customer",
        Customer.CreditTermsSet: "_fact",
        Customer.AtRiskFlagged: "_fact",
        Customer.SaleRecorded: "_sale",
        Customer.ReturnRecorded: "_return",
        Customer.PaymentRecorded: "_payment",
        Customer.ReceivableWrittenOff: "_write_off",
        Sku.Opened: "_sku",
        Sku.ListPriceSet: "_fact",
        Rep.Registered: "_rep",
        Rep.RankChanged: "_rank_changed",
        Rep.Fined: "_fined",
        Rep.CommissionPaid: "_paid",
        Rep.CommissionAccrued: "_accrued",
        Budget.Allocated: "_budget",
        Budget.Adjusted: "_fact",
        Budget.ExpenseSubmitted: "_expense_submitted",
        Budget.ExpenseApproved: "_expense_fact",
        Budget.ExpenseRejected: "_expense_fact",
        Budget.ExpenseSpent: "_expense_fact",
        Dispute.Opened: "_dispute",
        Dispute.Resolved: "_dispute_resolved",
        PolicyBook.PolicyAdopted: "_policy",
        Closings.MonthClosed: "_month_closed",
        CommandRecord.Recorded: "_command",
        CommandRecord.RecordedFor: "_command",
        Customer.PaymentReversed: "_payment_reversed",
        Rep.FineReversed: "_fine_reversed",
        Rep.PayoutReversed: "_payout_reversed",
        Budget.SpendReversed: "_spend_reversed",
        ApprovalGrants.Opened: "_grants_opened",
        ApprovalGrants.Granted: "_grant",
        ApprovalGrants.Used: "_grant_used",
    }
    # stored events it does not read (tests/projections/test_event_coverage.py)
    ignores: ClassVar[frozenset[type]] = frozenset({
        Claim.Claimed, Closings.Opened, PolicyBook.Opened,
    })
    tables: ClassVar[dict[str, str]] = {
        "entries": "position BIGINT PRIMARY KEY, event TEXT NOT NULL, command TEXT, "
                   "command_id TEXT, actor TEXT, actor_roles TEXT NOT NULL, "
                   "approved_by TEXT NOT NULL, reason TEXT, policy_version TEXT, "
                   "policies TEXT NOT NULL, occurred_at TEXT, reported_at TEXT, "
                   "recorded_at TEXT NOT NULL, business_date TEXT, delay_seconds BIGINT, "
                   "late INTEGER NOT NULL, subject_user TEXT, beneficiary_rep TEXT, "
                   "details TEXT NOT NULL",
        "entities": "entity_id TEXT NOT NULL, position BIGINT NOT NULL, "
                    "PRIMARY KEY (entity_id, position)",
        "approvals": "position BIGINT NOT NULL, approver TEXT NOT NULL, roles TEXT NOT NULL, "
                     "PRIMARY KEY (position, approver)",
        # how each approval was given (SPEC 1 Approvals): attested or granted, with the grant
        "ways": "position BIGINT NOT NULL, seq INTEGER NOT NULL, field TEXT, "
                "approver TEXT NOT NULL, how TEXT NOT NULL, grant_id TEXT, "
                "PRIMARY KEY (position, seq)",
        "origins": "origin TEXT PRIMARY KEY, kind TEXT NOT NULL, business_id TEXT NOT NULL, "
                   "related TEXT",
        "users": "user_id TEXT PRIMARY KEY, roles TEXT NOT NULL",
        "reps": "rep_id TEXT PRIMARY KEY, user_id TEXT",
        "sales": "sale_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, rep_id TEXT NOT NULL",
        "expenses": "expense_id TEXT PRIMARY KEY, submitted_by TEXT NOT NULL",
        "commands": "command_id TEXT NOT NULL, command TEXT NOT NULL, actor TEXT NOT NULL, "
                    "answer TEXT NOT NULL, position BIGINT NOT NULL, "
                    "PRIMARY KEY (command_id, actor)",
        **POLICY_TABLE,
    }
    indexes: ClassVar[dict[str, str]] = {
        "entries_command": "entries(command_id)",
        "entries_late": "entries(late)",
        "entries_actor": "entries(actor)",
        "approvals_approver": "approvals(approver)",
    }

    def __init__(self, generation: int = 1) -> None:
        super().__init__(generation)
        # what registrations say, read once per id: aggregate id -> (business id, related
        # id), user -> roles, sale -> rep, expense -> submitter
        self.origins = Memo(f"SELECT business_id, related FROM {self.t('origins')} WHERE origin = ?")
        self.roles = Memo(f"SELECT roles FROM {self.t('users')} WHERE user_id = ?")
        self.sale_reps = Memo(f"SELECT rep_id FROM {self.t('sales')} WHERE sale_id = ?")
        self.submitters = Memo(f"SELECT submitted_by FROM {self.t('expenses')} WHERE expense_id = ?")

    # --- the entry ----------------------------------------------------------------------

    def _entry(self, sql: Sql, position: int, e: Any, *, ids: tuple[str | None, ...] = (),
               origin_ids: bool = True, beneficiary: str | None = None,
               subject: str | None = None) -> None:
        """Write the entry of event ``e`` and index it under ``ids``, plus (``origin_ids``)
        the business id of its aggregate and, for disputes, the disputed entity.

        ``beneficiary`` is the rep whose account the decision is about and ``subject`` the
        user whose own request it decides (default: the actor): segregation of duties is
        checked against both.
        """
        topic = get_topic(type(e))
        meta = _meta(e)
        actor = meta.get("actor")
        occurred, reported = meta.get("occurred_at"), meta.get("reported_at")
        day = delay = None
        late = False
        policies = decision_policies(e)
        if occurred and reported:
            day, delay = _timing(occurred, reported)
            if "late" in meta:  # the domain's own flag (SPEC 2.6), recorded with the event
                late = bool(meta["late"])
                policies.setdefault("reporting", meta.get("reporting_policy"))  # type: ignore[arg-type]
            else:  # an event recorded before meta carried the flag
                rule = policy_in_force(sql, self.t("policies"), "reporting",
                                       date.fromisoformat(day), before=position)
                late = is_late(parse_instant(occurred), parse_instant(reported),
                               rule.values["late_after_hours"])
                policies.setdefault("reporting", rule.version)
        approvers = _approvers(e)
        sql.execute(
            f"INSERT INTO {self.t('entries')} (position, event, command, command_id, actor, "
            "actor_roles, approved_by, reason, policy_version, policies, occurred_at, reported_at, "
            "recorded_at, business_date, delay_seconds, late, subject_user, beneficiary_rep, "
            "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (position, topic.removeprefix("ledger:"), meta.get("command"), meta.get("command_id"),
             actor, self._roles_of(sql, actor), to_json(approvers), _reason(e),
             _policy_version(e, policies), to_json(policies), occurred, reported,
             _iso(e.timestamp), day, delay, int(late),
             (actor if subject is None else subject) or None, beneficiary,
             to_json(_details(e))),
        )
        if approvers:
            sql.executemany(
                f"INSERT INTO {self.t('approvals')} (position, approver, roles) VALUES (?, ?, ?)",
                [(position, a, self._roles_of(sql, a)) for a in approvers],
            )
        ways = approval_ways(e, meta)
        if ways:
            sql.executemany(
                f"INSERT INTO {self.t('ways')} (position, seq, field, approver, how, grant_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(position, i, w["field"], w["user"], w["how"], w["grant_id"])
                 for i, w in enumerate(ways)],
            )
        if origin_ids:
            ids = (*ids, *(self.origins.get(sql, e.originator_id.hex) or ()))
        sql.executemany(
            f"INSERT INTO {self.t('entities')} (entity_id, position) VALUES (?, ?)",
            [(i, position) for i in dict.fromkeys(i for i in ids if i)],
        )

    def _roles_of(self, sql: Sql, user_id: str | None) -> str:
        builtin = bootstrap_roles(user_id)  # the bootstrap admin is not an event
        if builtin is not None:
            return to_json(sorted(builtin))
        found = self.roles.get(sql, user_id) if user_id else None
        return found[0] if found else to_json([])

    def _origin(self, sql: Sql, e: Any, kind: str, business_id: str, related: str | None = None) -> None:
        sql.execute(
            f"INSERT INTO {self.t('origins')} (origin, kind, business_id, related) VALUES (?, ?, ?, ?)",
            (e.originator_id.hex, kind, business_id, related),
        )
        self.origins.put(e.originator_id.hex, (business_id, related))

    def _rep_of_sale(self, sql: Sql, sale_id: str) -> str | None:
        found = self.sale_reps.get(sql, sale_id)
        return found[0] if found else None

    # --- events -------------------------------------------------------------------------

    def _user(self, sql: Sql, position: int, e: Any) -> None:
        roles = to_json(sorted(e.roles))
        sql.execute(f"INSERT INTO {self.t('users')} (user_id, roles) VALUES (?, ?)", (e.user_id, roles))
        self.roles.put(e.user_id, (roles,))
        self._origin(sql, e, "user", e.user_id)
        self._entry(sql, position, e)

    def _customer(self, sql: Sql, position: int, e: Any) -> None:
        self._origin(sql, e, "customer", e.customer_id)
        self._entry(sql, position, e)

    def _fact(self, sql: Sql, position: int, e: Any) -> None:
        """An event about its aggregate only (terms, flags, list prices, adjustments...)."""
        self._entry(sql, position, e)

    def _sale(self, sql: Sql, position: int, e: Any) -> None:
        customer = (self.origins.get(sql, e.originator_id.hex) or (None,))[0]
        sql.execute(f"INSERT INTO {self.t('sales')} (sale_id, customer_id, rep_id) VALUES (?, ?, ?)",
                    (e.sale_id, customer, e.rep_id))
        self.sale_reps.put(e.sale_id, (e.rep_id,))
        self._entry(sql, position, e, ids=(e.sale_id, e.rep_id, e.invoice_no), beneficiary=e.rep_id)

    def _return(self, sql: Sql, position: int, e: Any) -> None:
        rep = self._rep_of_sale(sql, e.sale_id)
        self._entry(sql, position, e, ids=(e.return_id, e.sale_id, rep), beneficiary=rep)

    def _write_off(self, sql: Sql, position: int, e: Any) -> None:
        rep = self._rep_of_sale(sql, e.sale_id)
        self._entry(sql, position, e, ids=(e.writeoff_id, e.sale_id, rep), beneficiary=rep)

    def _payment(self, sql: Sql, position: int, e: Any) -> None:
        self._entry(sql, position, e, ids=(e.payment_id, *(a["sale_id"] for a in e.applied)))

    def _sku(self, sql: Sql, position: int, e: Any) -> None:
        self._origin(sql, e, "sku", e.sku)  # opening a SKU is bookkeeping, not an entry

    def _rep(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(f"INSERT INTO {self.t('reps')} (rep_id, user_id) VALUES (?, ?)",
                    (e.rep_id, e.user_id))
        self._origin(sql, e, "rep", e.rep_id)
        self._entry(sql, position, e, ids=(e.trainer_id, e.user_id), beneficiary=e.rep_id)

    def _rep_entry(self, sql: Sql, position: int, e: Any, ids: tuple[str | None, ...] = (),
                   subject: str | None = None) -> None:
        """An event about a rep's account: the rep is the beneficiary."""
        rep = (self.origins.get(sql, e.originator_id.hex) or (None,))[0]
        self._entry(sql, position, e, ids=ids, beneficiary=rep, subject=subject)

    def _rank_changed(self, sql: Sql, position: int, e: Rep.RankChanged) -> None:
        # a rank change is decided by its actor (a director, or the month's closer): there
        # is no request of someone else's to approve, only the rep account to check
        self._rep_entry(sql, position, e, subject="")

    def _fined(self, sql: Sql, position: int, e: Rep.Fined) -> None:
        self._rep_entry(sql, position, e, ids=(e.fine_id,))

    def _paid(self, sql: Sql, position: int, e: Rep.CommissionPaid) -> None:
        self._rep_entry(sql, position, e, ids=(e.payout_id,))

    def _accrued(self, sql: Sql, position: int, e: Rep.CommissionAccrued) -> None:
        self._rep_entry(sql, position, e)

    def _budget(self, sql: Sql, position: int, e: Any) -> None:
        self._origin(sql, e, "budget", e.budget_id)
        self._entry(sql, position, e)

    def _expense_submitted(self, sql: Sql, position: int, e: Any) -> None:
        sql.execute(f"INSERT INTO {self.t('expenses')} (expense_id, submitted_by) VALUES (?, ?)",
                    (e.expense_id, e.submitted_by))
        self.submitters.put(e.expense_id, (e.submitted_by,))
        self._entry(sql, position, e, ids=(e.expense_id,))

    def _expense_fact(self, sql: Sql, position: int, e: Any) -> None:
        # an approval is judged against the expense's submitter, not the approving actor
        found = self.submitters.get(sql, e.expense_id)
        self._entry(sql, position, e, ids=(e.expense_id,), subject=found[0] if found else None)

    def _dispute(self, sql: Sql, position: int, e: Any) -> None:
        self._origin(sql, e, "dispute", e.dispute_id, related=e.entity)
        self._entry(sql, position, e)

    def _dispute_resolved(self, sql: Sql, position: int, e: Dispute.Resolved) -> None:
        """A resolution, indexed under its dispute (and the disputed entity) and under the
        command that corrected it, if any (issue 10: dispute -> correcting command)."""
        self._entry(sql, position, e, ids=(e.correction_command_id,))

    def _policy(self, sql: Sql, position: int, e: Any) -> None:
        record_policy(sql, self.t("policies"), position, e)
        self._entry(sql, position, e, ids=(e.policy, e.version), origin_ids=False)

    def _command(self, sql: Sql, position: int, e: Any) -> None:
        """An applied command's record (its answer): not an entry, looked up by id."""
        sql.execute(f"INSERT INTO {self.t('commands')} (command_id, command, actor, answer, "
                    "position) VALUES (?, ?, ?, ?, ?)",
                    (e.command_id, e.command, e.actor, to_json(e.answer), position))

    # A reversal (SPEC 2.7) is indexed under its own id, the command it reverses, the
    # reversed payment, fine, payout or expense, the sales a payment's reversal reopens,
    # and its aggregate (customer, rep or budget). A fine's or payout's reversal is about
    # the rep's account; a spend's is judged against the expense's submitter.

    def _payment_reversed(self, sql: Sql, position: int, e: Customer.PaymentReversed) -> None:
        self._entry(sql, position, e, ids=(e.reversal_id, e.target_command_id, e.payment_id,
                                           *(a["sale_id"] for a in e.reopened)))

    def _fine_reversed(self, sql: Sql, position: int, e: Rep.FineReversed) -> None:
        self._rep_entry(sql, position, e, ids=(e.reversal_id, e.target_command_id, e.fine_id))

    def _payout_reversed(self, sql: Sql, position: int, e: Rep.PayoutReversed) -> None:
        self._rep_entry(sql, position, e, ids=(e.reversal_id, e.target_command_id, e.payout_id))

    def _spend_reversed(self, sql: Sql, position: int, e: Budget.SpendReversed) -> None:
        found = self.submitters.get(sql, e.expense_id)
        self._entry(sql, position, e, ids=(e.reversal_id, e.target_command_id, e.expense_id),
                    subject=found[0] if found else None)

    def _grants_opened(self, sql: Sql, position: int, e: Any) -> None:
        """Opening a grants record is bookkeeping; its grants are the entries."""
        self._origin(sql, e, "approval_grants", e.subject, related=e.approver)

    def _grant(self, sql: Sql, position: int, e: Any) -> None:
        """A grant: about the grant and the subject it approves (the granter is the actor)."""
        self._entry(sql, position, e, ids=(e.approval_id, e.subject), origin_ids=False)

    def _grant_used(self, sql: Sql, position: int, e: Any) -> None:
        subject = (self.origins.get(sql, e.originator_id.hex) or (None,))[0]
        self._entry(sql, position, e, ids=(e.approval_id, subject), origin_ids=False)

    def _month_closed(self, sql: Sql, position: int, e: Any) -> None:
        self._entry(sql, position, e, ids=(e.period,), origin_ids=False)


@lru_cache(maxsize=4096)
def _timing(occurred: str, reported: str) -> tuple[str, int]:
    """(business date of occurred_at, seconds from occurring to being reported)."""
    occurred_dt, reported_dt = parse_instant(occurred), parse_instant(reported)
    return (business_date(occurred_dt).isoformat(),
            int((reported_dt - occurred_dt) / timedelta(seconds=1)))


_APPROVER_FIELDS = ("price_approved_by", "credit_approved_by", "approved_by", "decided_by")


@dataclass(frozen=True)
class EntryShape:
    """What the trail reads from an event class beyond its own handler, from the fields
    the class declares (``event_fields``): which approver fields it has (of
    ``_APPROVER_FIELDS``, in that order), and whether it has a ``reason``, ``meta``, a
    ``policy`` mapping, a ``plan_version`` or an ``evidence`` (a promotion's, naming the
    plan). Every entry reads its event through its class's shape."""

    approver_fields: tuple[str, ...]
    reason: bool
    meta: bool
    policy: bool
    plan_version: bool
    evidence: bool


@cache
def entry_shape(cls: type) -> EntryShape:
    fields = event_fields(cls)
    return EntryShape(
        approver_fields=tuple(f for f in _APPROVER_FIELDS if f in fields),
        reason="reason" in fields, meta="meta" in fields, policy="policy" in fields,
        plan_version="plan_version" in fields, evidence="evidence" in fields,
    )


def _shape_of(e: Any) -> EntryShape:
    cls: type = type(e)
    return entry_shape(cls)


def _meta(e: Any) -> dict[str, Any]:
    return (e.meta or {}) if _shape_of(e).meta else {}


def _reason(e: Any) -> str | None:
    return e.reason if _shape_of(e).reason else None


def _named_approvers(e: Any) -> list[tuple[str, str]]:
    """(field, user) of every approver field of the event that names a user."""
    named = ((name, getattr(e, name)) for name in _shape_of(e).approver_fields)
    return [(name, user) for name, user in named if isinstance(user, str) and user]


def _approvers(e: Any) -> list[str]:
    """Who approved the decision: a sale's price and credit approvers, a return's,
    write-off's, fine's, budget's or credit terms' ``approved_by``, an expense approval's
    approver, a rank change's ``decided_by``."""
    return list(dict.fromkeys(user for _, user in _named_approvers(e)))


def approval_ways(e: Any, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """How each approval of the decision was given (SPEC 1 Approvals): the domain's
    ``meta["approvals"]`` (``{field, user, how, grant_id}``, ``how`` ``attested`` or
    ``granted``); for an event recorded before it carried them, and a close's promotion,
    each approver the event names, ``attested`` (no grant existed then)."""
    recorded = meta.get("approvals")
    if isinstance(recorded, list):
        return [{"field": a.get("field"), "user": a.get("user"), "how": a.get("how"),
                 "grant_id": a.get("grant_id")} for a in recorded if isinstance(a, dict)]
    return [{"field": name, "user": user, "how": "attested", "grant_id": None}
            for name, user in _named_approvers(e)]


def decision_policies(e: Any) -> dict[str, str]:
    """The version of every policy a decision event records it consulted (SPEC 1 Policy
    versions): ``meta["policies"]`` (every decision since it was recorded there), the
    ``policy`` field of sales, expense approvals and spends, and the commission plan
    (``commission_plan``) of an accrual or a promotion. Empty for a plain fact."""
    shape = _shape_of(e)
    found: dict[str, str] = dict(_meta(e).get("policies") or {})
    if shape.policy and isinstance(e.policy, dict):
        found.update(e.policy)
    plan = e.plan_version if shape.plan_version else None
    if not plan and shape.evidence:
        plan = (e.evidence or {}).get("plan_version")
    if isinstance(plan, str):
        found[PLAN_POLICY] = plan
    return found


def _policy_version(e: Any, policies: dict[str, str]) -> str | None:
    """An adoption's own version; a decision's versions of every policy it consulted as
    ``name=version`` pairs in name order, joined by commas
    (``"aging=default,approvals=default,credit=default,price_approval=default"``); None
    for a plain fact (a payment, a flag, a registration with its own terms)."""
    if isinstance(e, PolicyBook.PolicyAdopted):
        return e.version
    recorded = sorted((k, v) for k, v in policies.items() if k != "reporting")
    return ",".join(f"{k}={v}" for k, v in recorded) or None


def _details(e: Any) -> dict[str, Any]:
    return {k: v for k, v in e.__dict__.items() if k not in _NOT_DETAILS}


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


# --- reading ---------------------------------------------------------------------------------

_ENTRY_COLUMNS = ("position, event, command, command_id, actor, actor_roles, approved_by, reason, "
                  "policy_version, policies, occurred_at, reported_at, recorded_at, business_date, "
                  "late, details")


def _entries(sql: Sql, p: AuditProjection, where: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    columns = ", ".join("e." + c.strip() for c in _ENTRY_COLUMNS.split(","))
    rows = sql.all(f"SELECT {columns} FROM {p.t('entries')} e {where} ORDER BY e.position", params)
    positions = [r["position"] for r in rows]
    roles: dict[int, dict[str, list[str]]] = {}
    ways: dict[int, list[dict[str, Any]]] = {}
    if positions:
        for w in sql.all(
            f"SELECT w.position, w.field, w.approver, w.how, w.grant_id FROM {p.t('ways')} w "
            f"JOIN {p.t('entries')} e ON e.position = w.position {where} ORDER BY w.position, w.seq",
            params,
        ):
            ways.setdefault(w["position"], []).append(
                {"field": w["field"], "user": w["approver"], "how": w["how"],
                 "grant_id": w["grant_id"]})
        for a in sql.all(
            f"SELECT a.position, a.approver, a.roles FROM {p.t('approvals')} a "
            f"JOIN {p.t('entries')} e ON e.position = a.position {where}", params,
        ):
            roles.setdefault(a["position"], {})[a["approver"]] = from_json(a["roles"])
    return [_entry_out(r, roles.get(r["position"], {}), ways.get(r["position"]))
            for r in rows]


def _entry_out(r: dict[str, Any], approver_roles: dict[str, list[str]],
               ways: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    approved_by = from_json(r["approved_by"])
    if ways is None:  # tables filled before ``ways`` existed: every approval was attested
        ways = [{"field": None, "user": a, "how": "attested", "grant_id": None}
                for a in approved_by]
    return {
        "position": int(r["position"]),
        "event": r["event"],
        "command": r["command"],
        "command_id": r["command_id"],
        "actor": r["actor"],
        "actor_roles": from_json(r["actor_roles"]),
        "approved_by": approved_by,
        "approver_roles": {a: approver_roles.get(a, []) for a in approved_by},
        "approvals": ways,
        "reason": r["reason"],
        "policy_version": r["policy_version"],
        "policies": from_json(r["policies"]),
        "occurred_at": r["occurred_at"],
        "reported_at": r["reported_at"],
        "recorded_at": r["recorded_at"],
        "business_date": r["business_date"],
        "late": bool(r["late"]),
        "details": from_json(r["details"]),
    }


def query_audit(projector: Projector, entity_id: str) -> dict[str, Any]:
    """``ledger query audit --entity ID`` (SPEC 5.3): the decisions and events about one
    entity, in log order.

    ``{entity_id, entries: [{position, event, command_id, actor, approved_by, reason,
    policy_version, occurred_at, reported_at, recorded_at, late, ...}]}``; besides the
    contract's fields each entry has ``command``, ``actor_roles``, ``approver_roles``,
    ``policies`` (every policy version the event records, and the ``reporting`` version
    that decided ``late``), ``business_date``, ``details`` (the event's own fields) and
    ``approvals``: how each approval was given (SPEC 1 Approvals), ``[{field, user, how,
    grant_id}]`` with ``how`` ``attested`` or ``granted`` (``grant_id`` the grant's
    ``approval_id``; null when attested). ``event`` is the event's topic without the ``ledger:`` prefix
    (``"Customer.SaleRecorded"``). An id no event is about is ``unknown_reference``.
    """
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        entries = _entries(sql, p, f"JOIN {p.t('entities')} x ON x.position = e.position "
                                   "WHERE x.entity_id = ?", (entity_id,))
        for entry in entries:  # a resolution names its correcting command: link it
            command_id = entry["details"].get("correction_command_id")
            if entry["event"] == RESOLVED_EVENT and command_id:
                entry["correction"] = _correction(sql, projector, p, command_id)
    if not entries:
        raise unknown("entity", entity_id, "entity")
    return {"entity_id": entity_id, "entries": entries}


RESOLVED_EVENT = get_topic(Dispute.Resolved).removeprefix("ledger:")


def correction_link(projector: Projector, command_id: str) -> dict[str, Any] | None:
    """The correcting command a dispute's resolution names, and the figures its events
    changed (``_correction``); None when the projector does not keep the audit trail."""
    p = next((q for q in projector.projections if isinstance(q, AuditProjection)), None)
    if p is None:
        return None
    with projector.transaction(commit=False) as sql:
        return _correction(sql, projector, p, command_id)


def _correction(sql: Sql, projector: Projector, p: AuditProjection,
                command_id: str) -> dict[str, Any]:
    """Dispute -> correcting command -> changed figures (issue 10): ``{command_id, command,
    actor, events: [{position, event, entities, postings}]}``, the command as recorded
    (every actor's, when several used the id) and, for each event it produced in log
    order, the entities whose figures it changed (the ids the trail indexes it under: the
    customer, sale, rep, budget ...) and its general-ledger postings (``[{day, account,
    debit, credit}]``; null when the projector keeps no general ledger)."""
    records = sql.all(f"SELECT command, actor FROM {p.t('commands')} WHERE command_id = ? "
                      "ORDER BY position", (command_id,))
    rows = sql.all(f"SELECT position, event FROM {p.t('entries')} WHERE command_id = ? "
                   "ORDER BY position", (command_id,))
    gl = next((q for q in projector.projections if type(q).__name__ == "GeneralLedger"), None)
    events = []
    for r in rows:
        position = int(r["position"])
        entities = [x["entity_id"] for x in sql.all(
            f"SELECT entity_id FROM {p.t('entities')} WHERE position = ? ORDER BY entity_id",
            (position,))]
        postings = None if gl is None else [
            {"day": g["day"], "account": g["account"], "debit": int(g["debit"]),
             "credit": int(g["credit"])}
            for g in sql.all(f"SELECT day, account, debit, credit FROM {gl.t('postings')} "
                             "WHERE position = ? ORDER BY seq", (position,))]
        events.append({"position": position, "event": r["event"], "entities": entities,
                       "postings": postings})
    return {"command_id": command_id,
            "command": records[0]["command"] if records else None,
            "actor": records[0]["actor"] if len(records) == 1 else None,
            "events": events}


def query_command(projector: Projector, command_id: str, actor: str | None = None) -> dict[str, Any]:
    """``ledger query command --id CID [--actor U]``: a command, its answer and the events
    it produced (SPEC 3: the command that caused a decision and the events it produced):
    ``{command_id, command, actor, answer, entries}``, entries in log order, all from this
    projection's tables. ``actor`` narrows to one actor's command (the idempotency key is
    the actor and the command_id, SPEC 1).
    """
    p = projection_of(projector, AuditProjection)
    by_actor, params = ("", (command_id,)) if actor is None else (" AND actor = ?", (command_id, actor))
    with projector.transaction(commit=False) as sql:
        entries = _entries(sql, p, f"WHERE e.command_id = ?{by_actor.replace('actor', 'e.actor')}",
                           params)
        record = sql.one(f"SELECT command, actor, answer FROM {p.t('commands')} "
                         f"WHERE command_id = ?{by_actor} ORDER BY position", params)
    if record is None and not entries:
        raise unknown("command", command_id, "command_id")
    return {"command_id": command_id, "command": record["command"] if record else None,
            "actor": record["actor"] if record else None,
            "answer": from_json(record["answer"]) if record else None, "entries": entries}


def late_reported_count(projector: Projector) -> int:
    """How many events were reported late (SPEC 2.6)."""
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        return int(sql.scalar(f"SELECT COUNT(*) AS n FROM {p.t('entries')} WHERE late = 1"))


def query_actor(projector: Projector, user_id: str) -> dict[str, Any]:
    """``ledger query audit --actor U`` (SPEC 5.3): every entry U took (as the command's
    actor) or approved (named as an approver, a rank change's ``decided_by`` included), in
    log order, each as ``audit --entity`` shows it: ``{actor, entries}``. A user the log
    never registered is ``unknown_reference``; a registered user who did nothing has no
    entries."""
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        entries = _entries(sql, p, f"WHERE e.actor = ? OR e.position IN (SELECT x.position FROM "
                                   f"{p.t('approvals')} x WHERE x.approver = ?)", (user_id, user_id))
        known = bootstrap_roles(user_id) is not None or sql.one(
            f"SELECT user_id FROM {p.t('users')} WHERE user_id = ?", (user_id,)) is not None
    if not entries and not known:
        raise unknown("user", user_id, "actor")
    return {"actor": user_id, "entries": entries}


def query_late(projector: Projector, date_from: date | str | None = None,
               date_to: date | str | None = None) -> dict[str, Any]:
    """``ledger query late [--from D] [--to D]``: every event reported late (SPEC 2.6)
    whose business date is within [from, to] (either bound optional), in log order:
    ``{from, to, count, entries}``."""
    first, last = parse_as_of(date_from, "from"), parse_as_of(date_to, "to")
    where, params = "WHERE e.late = 1", []
    if first is not None:
        where += " AND e.business_date >= ?"
        params.append(first.isoformat())
    if last is not None:
        where += " AND e.business_date <= ?"
        params.append(last.isoformat())
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        entries = _entries(sql, p, where, tuple(params))
    return {"from": first.isoformat() if first else None, "to": last.isoformat() if last else None,
            "count": len(entries), "entries": entries}


def segregation_violations(projector: Projector) -> list[dict[str, Any]]:
    """Segregation-of-duty check over the trail (SPEC 1): approvals where the approver
    is the person whose request it decides (the actor, or an expense's submitter) or the
    user of the rep the decision is about. The domain rejects these, so a non-empty
    answer means the log holds what the rules forbid."""
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        rows = sql.all(
            f"SELECT e.position, e.event, e.command_id, a.approver, e.subject_user, "
            f"e.beneficiary_rep, r.user_id AS rep_user FROM {p.t('approvals')} a "
            f"JOIN {p.t('entries')} e ON e.position = a.position "
            f"LEFT JOIN {p.t('reps')} r ON r.rep_id = e.beneficiary_rep "
            "WHERE a.approver = e.subject_user OR a.approver = r.user_id ORDER BY e.position, a.approver",
        )
    return [
        {"position": int(r["position"]), "event": r["event"], "command_id": r["command_id"],
         "approver": r["approver"],
         "conflict": "own_request" if r["approver"] == r["subject_user"] else "own_rep_account",
         "rep_id": r["beneficiary_rep"]}
        for r in rows
    ]


def audit_summary(projector: Projector) -> dict[str, Any]:
    """What an auditor looks at first: ``{events, late_reported, decisions_with_approver,
    segregation_violations}``."""
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        events = int(sql.scalar(f"SELECT COUNT(*) AS n FROM {p.t('entries')}"))
        approved = int(sql.scalar(f"SELECT COUNT(DISTINCT position) AS n FROM {p.t('approvals')}"))
    return {"events": events, "late_reported": late_reported_count(projector),
            "decisions_with_approver": approved,
            "segregation_violations": len(segregation_violations(projector))}


SOD_CHECKS = (
    ("own_request", "nobody approves their own request: the command's actor, an expense's "
                    "submitter"),
    ("own_rep_account", "nobody approves a decision about the rep whose user_id is theirs"),
)


def query_sod(projector: Projector) -> dict[str, Any]:
    """``ledger query sod``: the segregation-of-duty checks (SPEC 1) run over every approval
    the trail holds, and each violation found (``segregation_violations``):
    ``{ok, decisions_checked, approvals_checked, checks: [{rule, description,
    violations}], violations: [{position, event, command_id, approver, conflict, rep_id}]}``.
    """
    p = projection_of(projector, AuditProjection)
    with projector.transaction(commit=False) as sql:
        decisions = int(sql.scalar(f"SELECT COUNT(DISTINCT position) AS n FROM {p.t('approvals')}"))
        approvals = int(sql.scalar(f"SELECT COUNT(*) AS n FROM {p.t('approvals')}"))
    violations = segregation_violations(projector)
    return {
        "ok": not violations, "decisions_checked": decisions, "approvals_checked": approvals,
        "checks": [{"rule": rule, "description": text,
                    "violations": sum(1 for v in violations if v["conflict"] == rule)}
                   for rule, text in SOD_CHECKS],
        "violations": violations,
    }
