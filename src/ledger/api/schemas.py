"""The documented shapes of the API (OpenAPI at ``/openapi.json``), as msgspec structs.

They document; they do not filter. Answers are the query functions' own JSON (SPEC 5.3),
encoded by msgspec, and may carry more fields than listed here (``kw_only`` structs with no
``forbid_unknown_fields``); the tests convert real answers into these structs to keep the
two in step. Requests are documented with the domain's own command structs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from ledger.api.contract import MONTH, RATE
from ledger.domain.authority import ROLES
from ledger.domain.commands import AnyCommand
from ledger.domain.plan_schema import RANKS

# The domain's vocabularies, as the answers carry them.
Role = Literal[ROLES]  # type: ignore[valid-type]
Rank = Literal[RANKS]  # type: ignore[valid-type]
Month = Annotated[str, Meta(pattern=MONTH)]
Rate = Annotated[str, Meta(pattern=RATE)]

REF = "#/components/schemas/{name}"


class Health(Struct, kw_only=True):
    """``/healthz``: the process is up."""

    status: Literal["ok"]


class Readiness(Struct, kw_only=True):
    """``/readyz``: the database answers and the slowest projection's lag."""

    status: Literal["ok", "lagging", "unavailable"]
    database: Literal["ok", "unreachable"]
    log_position: int | None = None
    lag_events: int | None = None
    lag_seconds: float | None = None
    max_lag_events: int | None = None
    error: str | None = None


class Error(Struct, kw_only=True):
    """An answer that is not a command's: the rule (``not_authenticated``,
    ``not_authorized``, ``unknown_reference``, ``invalid_field``, ``not_caught_up``), a
    message and the numbers involved."""

    rule: str
    message: str
    details: dict[str, Any] = {}


class CommandAnswer(Struct, kw_only=True):
    """One command's answer (SPEC 1 Identity, 5.2). ``position``: the log position of an
    applied command's events (for a duplicate, the log's position when it was answered);
    pass it as ``wait_for`` to a read. ``original``: a duplicate's first answer."""

    command_id: str | None
    command: str | None
    status: Literal["applied", "duplicate", "rejected"]
    rule: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    events: int | None = None
    position: int | None = None
    original: dict[str, Any] | None = None


class CommissionLine(Struct, kw_only=True):
    type: str | None = None
    sale_id: str | None = None
    date: str | None = None
    gross: int | None = None
    share: int | None = None
    amount: int | None = None


class Commission(Struct, kw_only=True):
    rep_id: str
    period: Month
    closed: bool
    rank: Rank | None
    personal_sales: int
    rate: Rate
    commission: int
    morning_star_bonus: int
    opening_star_bonus: int
    override: int
    adjustment: int  # the late adjustment lines, signed
    carried: int  # <= 0: the month before's negative total carried in
    clawback: int
    fines: int
    total: int
    payable_on: str | None
    override_payable_on: str | None
    paid: int
    balance: int
    lines: list[dict[str, Any]]
    disputes: list[dict[str, Any]] = []  # the open disputes of that rep and month


class ReceivableItem(Struct, kw_only=True):
    sale_id: str
    invoice_no: str
    open: int
    written_off: int = 0
    due_on: str
    days_past_due: int
    # class of SPEC 2.3: receivable, in_collection, doubtful, bad_debt
    class_: str = msgspec.field(name="class")
    bucket: str


class Receivables(Struct, kw_only=True):
    customer_id: str
    as_of: str
    open_total: int
    credit_limit: int
    credit_available: int
    items: list[ReceivableItem]


class Aging(Struct, kw_only=True):
    as_of: str
    total: int
    classes: dict[str, int]
    buckets: dict[str, int]


class Budget(Struct, kw_only=True):
    budget_id: str
    allocated: int
    committed: int
    spent: int
    remaining: int
    expenses: list[dict[str, Any]]


class RankChange(Struct, kw_only=True):
    rank: Rank
    effective_from: str
    reason: str | None
    decided_by: str | None


class Ranks(Struct, kw_only=True):
    rep_id: str
    rank: Rank
    history: list[RankChange]


class Account(Struct, kw_only=True):
    account: str
    debit: int
    credit: int


class TrialBalance(Struct, kw_only=True):
    accounts: list[Account]
    debit_total: int
    credit_total: int


class ReconcileCheck(Struct, kw_only=True):
    name: str
    general_ledger: int
    subledger: int
    difference: int


class Reconcile(Struct, kw_only=True):
    ok: bool
    as_of: str | None = None
    checks: list[ReconcileCheck]


class ApprovalWay(Struct, kw_only=True):
    """How one approval of a decision was given (SPEC 1 Approvals)."""

    field: str | None  # the command's field that named the approver (``actor``: their own act)
    user: str
    how: Literal["attested", "granted"]
    grant_id: str | None  # the GrantApproval's approval_id, when granted


class AuditEntry(Struct, kw_only=True):
    position: int
    event: str
    command_id: str | None
    actor: str | None
    approved_by: list[str]
    reason: str | None
    policy_version: str | None
    occurred_at: str | None
    reported_at: str | None
    recorded_at: str | None
    late: bool
    approvals: list[ApprovalWay] = []


class Audit(Struct, kw_only=True):
    entity_id: str
    entries: list[AuditEntry]


class User(Struct, kw_only=True):
    user_id: str
    roles: list[Role]


class UserDocument(User, kw_only=True):
    """``/v1/users/{user_id}``: one user, as a query document (the entries of ``Users``
    are the same without the document's own fields)."""


class Users(Struct, kw_only=True):
    users: list[User]


class ActorAudit(Struct, kw_only=True):
    """Every entry a user took (as actor) or approved, in log order."""

    actor: str
    entries: list[AuditEntry]


class CommandTrace(Struct, kw_only=True):
    """A command's stored answer and the audit entries of the events it produced."""

    command_id: str
    command: str | None
    actor: str | None
    answer: dict[str, Any] | None
    entries: list[AuditEntry]


class Late(Struct, kw_only=True):
    """Events reported late (SPEC 2.6) with a business date within [from, to]."""

    from_: str | None = msgspec.field(name="from")
    to: str | None
    count: int
    entries: list[AuditEntry]


class SodCheck(Struct, kw_only=True):
    rule: str
    description: str
    violations: int


class Sod(Struct, kw_only=True):
    """Segregation-of-duty checks over every approval the trail holds."""

    ok: bool
    decisions_checked: int
    approvals_checked: int
    checks: list[SodCheck]
    violations: list[dict[str, Any]]


class Dso(Struct, kw_only=True):
    """Days sales outstanding: open receivables / gross sales of the window x its days."""

    as_of: str
    open_total: int
    gross_sales: int
    window_days: int
    window_from: str
    dso: str | None


class Dispute(Struct, kw_only=True):
    dispute_id: str
    entity: str
    entity_kind: str
    period: Month | None
    claim: str
    status: Literal["open", "resolved"]
    opened_by: str
    outcome: str | None
    resolved_by: str | None
    correction_command_id: str | None


class Disputes(Struct, kw_only=True):
    entity: str | None
    open_only: bool
    open: int
    resolved: int
    disputes: list[Dispute]


class TripProgress(Struct, kw_only=True):
    name: str
    row: str
    required: int
    window_from: str
    window_to: str
    months: list[str]
    count: int
    still_needed: int
    qualified: bool
    qualified_in: str | None


class Trips(Struct, kw_only=True):
    rep_id: str
    year: int
    plan_version: str
    trips: list[TripProgress]


class PolicyInForce(Struct, kw_only=True):
    version: str
    effective_from: str | None
    values: dict[str, Any]


class PlanInForce(Struct, kw_only=True):
    version: str
    effective_from: str | None
    plan: dict[str, Any]


class Policies(Struct, kw_only=True):
    """Every policy in force on ``as_of``, values as ``AdoptPolicy`` takes them, and the
    commission plan as ``AdoptCommissionPlan`` takes it."""

    as_of: str
    policies: dict[str, PolicyInForce]
    plan: PlanInForce


class ExplainStep(Struct, kw_only=True):
    """One step of an explanation: the event at a log position (null only for an
    ``unexplained`` remainder), the rule it went through, the policy version applied, its
    signed amount and the running total; ``note`` says it in words, ``details`` has the
    numbers (ids, tier and rate, threshold, dates)."""

    position: int | None
    event: str | None
    occurred_at: str | None
    rule: str
    policy_version: str | None
    amount: int
    running_total: int
    note: str = ""
    details: dict[str, Any] = {}


class Explanation(Struct, kw_only=True):
    """The events behind one figure (SPEC 4 explain): ``figure`` names it (``total`` of a
    statement, ``open_total`` or a sale's ``open``, a budget's ``remaining``), ``value`` is
    the query's figure and the last step's ``running_total``."""

    figure: str
    value: int
    steps: list[ExplainStep]


DOCUMENTED: tuple[Any, ...] = (Error, CommandAnswer, Commission, Receivables, Aging, Budget,
                               Ranks, TrialBalance, Reconcile, Audit, ActorAudit, CommandTrace,
                               Late, Sod, Dso, Disputes, Trips, Policies, User, Users,
                               UserDocument, Health, Readiness, Explanation, AnyCommand)


def ref(model: type) -> dict[str, str]:
    return {"$ref": REF.format(name=model.__name__)}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def components() -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema of one command, every component schema), for the OpenAPI document."""
    schemas, comps = msgspec.json.schema_components(DOCUMENTED, ref_template=REF)
    return schemas[-1], comps


ERRORS = {
    401: json_content(ref(Error), "Missing or unknown API key (`not_authenticated`)."),
    403: json_content(ref(Error), "The key's user is not registered, or its roles may not "
                                  "make this request (`not_authorized`; SPEC 5.4 Reads)."),
}
READ_ERRORS = {
    **ERRORS,
    422: json_content(ref(Error), "A malformed parameter (`invalid_field`), or `at_position` "
                                  "beyond the log's end."),
    503: json_content(ref(Error), "`wait_for`: the projections did not reach the position in "
                                  "time (`not_caught_up`), a position perhaps not yet written "
                                  "(another process may be about to write it); retry after "
                                  "`Retry-After` seconds."),
}
NOT_FOUND = {404: json_content(ref(Error), "An unknown rep, customer, budget or entity "
                                           "(`unknown_reference`).")}


def read_responses(model: type, description: str, *, lookup: bool = True) -> dict[int | str, Any]:
    out: dict[int | str, Any] = {200: json_content(ref(model), description), **READ_ERRORS}  # type: ignore[dict-item]
    if lookup:
        out.update(NOT_FOUND)  # type: ignore[arg-type]
    return out
