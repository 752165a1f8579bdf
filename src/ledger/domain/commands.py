"""The commands of SPEC 5.2 as msgspec structs: the wire shape, decoded and type-checked.

Amounts are integers in fen, rates decimal strings, dates ``YYYY-MM-DD``, times ISO 8601
with an offset. Decoding errors become ``invalid_field`` answers naming the field.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import Meta, Struct

from ledger.domain.errors import Rejection

Id = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(min_length=1, max_length=2000)]
Fen = int
PositiveFen = Annotated[int, Meta(gt=0)]
NonNegativeFen = Annotated[int, Meta(ge=0)]
Instant = Annotated[datetime, Meta(tz=True)]


class Command(Struct, kw_only=True, forbid_unknown_fields=True, tag_field="command"):
    command_id: Id
    actor: Id
    occurred_at: Instant | None = None
    reported_at: Instant | None = None


# --- parties -----------------------------------------------------------------------------


class RegisterUser(Command, tag="RegisterUser", kw_only=True):
    user_id: Id
    name: Text
    roles: Annotated[list[str], Meta(min_length=1)]


class RegisterCustomer(Command, tag="RegisterCustomer", kw_only=True):
    customer_id: Id
    name: Text
    credit_limit: NonNegativeFen
    payment_terms_days: Annotated[int, Meta(ge=0, le=3650)] | None = None
    region: Text


class SetCreditTerms(Command, tag="SetCreditTerms", kw_only=True):
    customer_id: Id
    credit_limit: NonNegativeFen
    payment_terms_days: Annotated[int, Meta(ge=0, le=3650)]
    approved_by: Id


class FlagCustomerAtRisk(Command, tag="FlagCustomerAtRisk", kw_only=True):
    customer_id: Id
    at_risk: bool
    reason: Text


class SetListPrice(Command, tag="SetListPrice", kw_only=True):
    sku: Id
    unit_price: PositiveFen
    effective_from: date
    approved_by: Id


class RegisterRep(Command, tag="RegisterRep", kw_only=True):
    rep_id: Id
    name: Text
    rank: str = "SR"
    trainer_id: Id | None = None
    region: Text
    user_id: Id | None = None


# --- sales and receivables ------------------------------------------------------------------


class SaleLine(Struct, forbid_unknown_fields=True):
    sku: Id
    quantity: Annotated[int, Meta(gt=0)]
    unit_price: NonNegativeFen
    tax_rate: str | None = None


class RecordSale(Command, tag="RecordSale", kw_only=True):
    sale_id: Id
    customer_id: Id
    rep_id: Id
    invoice_no: Id
    lines: Annotated[list[SaleLine], Meta(min_length=1, max_length=1000)]
    price_approved_by: Id | None = None
    credit_approved_by: Id | None = None


class RecordReturn(Command, tag="RecordReturn", kw_only=True):
    return_id: Id
    sale_id: Id
    amount: PositiveFen
    approved_by: Id
    reason: Text


class Allocation(Struct, forbid_unknown_fields=True):
    sale_id: Id
    amount: PositiveFen


class RecordPayment(Command, tag="RecordPayment", kw_only=True):
    payment_id: Id
    customer_id: Id
    amount: PositiveFen
    received_on: date
    allocations: list[Allocation] | None = None


class WriteOffReceivable(Command, tag="WriteOffReceivable", kw_only=True):
    writeoff_id: Id
    sale_id: Id
    amount: PositiveFen
    approved_by: Id
    reason: Text


# --- budgets and expenses -------------------------------------------------------------------


class AllocateBudget(Command, tag="AllocateBudget", kw_only=True):
    budget_id: Id
    department: Text
    category: Id
    period: Id
    amount: NonNegativeFen
    approved_by: Id


class AdjustBudget(Command, tag="AdjustBudget", kw_only=True):
    budget_id: Id
    delta: int
    approved_by: Id
    reason: Text


class SubmitExpense(Command, tag="SubmitExpense", kw_only=True):
    expense_id: Id
    budget_id: Id
    amount: PositiveFen
    description: Text
    planned_on: date
    activity: bool = False


class ApproveExpense(Command, tag="ApproveExpense", kw_only=True):
    expense_id: Id


class RejectExpense(Command, tag="RejectExpense", kw_only=True):
    expense_id: Id
    reason: Text


class RecordExpenseSpend(Command, tag="RecordExpenseSpend", kw_only=True):
    expense_id: Id
    amount: PositiveFen
    invoice_no: Id
    paid_on: date


# --- compensation ---------------------------------------------------------------------------


class CloseMonth(Command, tag="CloseMonth", kw_only=True):
    period: Id


class ChangeRank(Command, tag="ChangeRank", kw_only=True):
    rep_id: Id
    rank: Id
    reason: Text
    effective_from: date | None = None


class FineRep(Command, tag="FineRep", kw_only=True):
    fine_id: Id
    rep_id: Id
    amount: PositiveFen
    reason: Text
    approved_by: Id


class PayCommission(Command, tag="PayCommission", kw_only=True):
    payout_id: Id
    rep_id: Id
    period: Id
    amount: PositiveFen
    paid_on: date


class AdoptCommissionPlan(Command, tag="AdoptCommissionPlan", kw_only=True):
    plan_version: Id
    effective_from: date
    plan: dict[str, Any]


class AdoptPolicy(Command, tag="AdoptPolicy", kw_only=True):
    policy: Id
    version: Id
    effective_from: date
    values: dict[str, Any]


# --- disputes -------------------------------------------------------------------------------


class OpenDispute(Command, tag="OpenDispute", kw_only=True):
    dispute_id: Id
    entity: Id
    period: Id | None = None
    claim: Text
    event_refs: list[Any] | None = None


class ResolveDispute(Command, tag="ResolveDispute", kw_only=True):
    dispute_id: Id
    outcome: Literal["upheld", "rejected"]
    reason: Text
    correction_command_id: Id | None = None


# --- approvals (SPEC 1 Approvals) ----------------------------------------------------------


class GrantApproval(Command, tag="GrantApproval", kw_only=True):
    """The actor grants, beforehand, an approval a later command will name them for:
    ``kind`` an ``approvals`` policy key, ``subject`` the id that command carries, ``limit``
    the most it covers (fen; for the price kinds a discount rate as a decimal string)."""

    approval_id: Id
    kind: Id
    subject: Id
    limit: int | str | None = None
    expires_at: Instant


COMMAND_TYPES: tuple[type[Command], ...] = (
    RegisterUser, RegisterCustomer, SetCreditTerms, FlagCustomerAtRisk, SetListPrice,
    RegisterRep, RecordSale, RecordReturn, RecordPayment, WriteOffReceivable, AllocateBudget,
    AdjustBudget, SubmitExpense, ApproveExpense, RejectExpense, RecordExpenseSpend, CloseMonth,
    ChangeRank, FineRep, PayCommission, AdoptCommissionPlan, AdoptPolicy, OpenDispute,
    ResolveDispute, GrantApproval,
)
COMMAND_NAMES = tuple(t.__struct_config__.tag for t in COMMAND_TYPES)
AnyCommand = Union[COMMAND_TYPES]  # type: ignore[valid-type]

_body_encoder = msgspec.json.Encoder(order="sorted")
_FIELD_AT = re.compile(r"at `\$(?:\.)?([^`]*)`")


def body_hash(body: dict[str, Any]) -> str:
    """Identity of a command's body, for idempotency: sha256 of its canonical JSON."""
    return hashlib.sha256(_body_encoder.encode(body)).hexdigest()


def decode_command(body: Any) -> Command:
    """Turn a JSON object into a typed command, or raise ``invalid_field``."""
    if not isinstance(body, dict):
        raise Rejection("invalid_field", "a command must be a JSON object", field="$")
    name = body.get("command")
    if name not in COMMAND_NAMES:
        raise Rejection(
            "invalid_field", f"command: unknown command {name!r}", field="command",
            allowed=list(COMMAND_NAMES),
        )
    try:
        return msgspec.convert(body, AnyCommand, strict=True)
    except msgspec.ValidationError as e:
        text = str(e)
        m = _FIELD_AT.search(text)
        field = m.group(1) if m and m.group(1) else None
        if field is None and text.startswith("Object missing required field"):
            field = text.split("`")[1]
        elif field is None and text.startswith("Object contains unknown field"):
            field = text.split("`")[1]
        raise Rejection("invalid_field", f"{field or '$'}: {text}", field=field or "$") from None


def command_name(cmd: Command) -> str:
    return type(cmd).__struct_config__.tag  # type: ignore[return-value]
