"""The commands of SPEC 5.2 as msgspec structs: the wire shape, decoded and type-checked.

Amounts are integers in fen, rates decimal strings, dates ``YYYY-MM-DD``, times ISO 8601
with an offset. Decoding errors become ``invalid_field`` answers naming the field.

Input that must never get in (SPEC 1) is refused here, before anything is stored, with
``invalid_field`` naming the field (the limits are documented in ``LIMITS``):

- every amount in fen, and every sale line's quantity x unit price (and the sale's gross),
  is at most 10^13 fen in magnitude, so no sum the ledger keeps leaves a 64-bit integer;
- ids hold no control character, free text none but tab and newline (PostgreSQL text
  cannot hold NUL), and no string anywhere in a command holds NUL or another control;
- a command nests at most ``MAX_DEPTH`` levels, each list or object holds at most
  ``MAX_ITEMS`` entries, a string at most ``MAX_STRING`` characters, the whole command at
  most ``MAX_COMMAND_BYTES`` bytes of JSON;
- every date and time lies within 1900-01-01..9999-12-31 (in its own offset, in UTC and in
  company time).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import Meta, Struct

from ledger.domain.errors import Rejection

# --- limits (SPEC 1; SPEC 5.4 "request bodies, list lengths and nesting are bounded") ---
MAX_AMOUNT = 10**13  # fen: 100 billion yuan, any amount and any line's quantity x unit price
MAX_QUANTITY = 10**13
MAX_DEPTH = 32  # nesting of objects and lists in one command (the command object is depth 1)
MAX_ITEMS = 1000  # entries of any list or object in a command
MAX_STRING = 10_000  # characters of any string in a command (ids 200, text 2,000)
MAX_COMMAND_BYTES = 256 * 1024  # one command's JSON
MIN_YEAR, MAX_YEAR = 1900, 9999
LIMITS = {
    "amount_fen": MAX_AMOUNT, "quantity": MAX_QUANTITY, "depth": MAX_DEPTH,
    "items": MAX_ITEMS, "string_chars": MAX_STRING, "id_chars": 200, "text_chars": 2000,
    "command_bytes": MAX_COMMAND_BYTES, "years": [MIN_YEAR, MAX_YEAR],
}

# No control character in an id; none but tab, newline and carriage return in free text.
_NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*\Z"  # \Z: "$" would let a final newline in
_TEXT_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*\Z"
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

Id = Annotated[str, Meta(min_length=1, max_length=200, pattern=_NO_CONTROL)]
Text = Annotated[str, Meta(min_length=1, max_length=2000, pattern=_TEXT_CONTROL)]
Fen = Annotated[int, Meta(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
PositiveFen = Annotated[int, Meta(gt=0, le=MAX_AMOUNT)]
NonNegativeFen = Annotated[int, Meta(ge=0, le=MAX_AMOUNT)]
Instant = Annotated[datetime, Meta(tz=True)]
Rate = Annotated[str, Meta(max_length=32, pattern=r"^[0-9]{1,3}(\.[0-9]{1,12})?$")]
Position = Annotated[int, Meta(ge=0, le=2**62)]
Currency = Annotated[str, Meta(min_length=1, max_length=8, pattern=_NO_CONTROL)]


class Command(Struct, kw_only=True, forbid_unknown_fields=True, tag_field="command"):
    command_id: Id
    actor: Id
    occurred_at: Instant | None = None
    reported_at: Instant | None = None


# --- parties -----------------------------------------------------------------------------


class RegisterUser(Command, tag="RegisterUser", kw_only=True):
    user_id: Id
    name: Text
    roles: Annotated[list[Id], Meta(min_length=1, max_length=20)]


class RegisterCustomer(Command, tag="RegisterCustomer", kw_only=True):
    customer_id: Id
    name: Text
    credit_limit: NonNegativeFen
    payment_terms_days: Annotated[int, Meta(ge=0, le=3650)] | None = None
    region: Text
    currency: Currency | None = None


class SetCreditTerms(Command, tag="SetCreditTerms", kw_only=True):
    customer_id: Id
    credit_limit: NonNegativeFen
    payment_terms_days: Annotated[int, Meta(ge=0, le=3650)]
    approved_by: Id
    currency: Currency | None = None


class FlagCustomerAtRisk(Command, tag="FlagCustomerAtRisk", kw_only=True):
    customer_id: Id
    at_risk: bool
    reason: Text


class SetListPrice(Command, tag="SetListPrice", kw_only=True):
    sku: Id
    unit_price: PositiveFen
    effective_from: date
    approved_by: Id
    currency: Currency | None = None


class RegisterRep(Command, tag="RegisterRep", kw_only=True):
    rep_id: Id
    name: Text
    rank: Id = "SR"
    trainer_id: Id | None = None
    region: Text
    user_id: Id | None = None


# --- sales and receivables ------------------------------------------------------------------


class SaleLine(Struct, forbid_unknown_fields=True):
    sku: Id
    quantity: Annotated[int, Meta(gt=0, le=MAX_QUANTITY)]
    unit_price: NonNegativeFen
    tax_rate: Rate | None = None


class RecordSale(Command, tag="RecordSale", kw_only=True):
    sale_id: Id
    customer_id: Id
    rep_id: Id
    invoice_no: Id
    lines: Annotated[list[SaleLine], Meta(min_length=1, max_length=1000)]
    price_approved_by: Id | None = None
    credit_approved_by: Id | None = None
    currency: Currency | None = None


class RecordReturn(Command, tag="RecordReturn", kw_only=True):
    return_id: Id
    sale_id: Id
    amount: PositiveFen
    approved_by: Id
    reason: Text
    currency: Currency | None = None


class Allocation(Struct, forbid_unknown_fields=True):
    sale_id: Id
    amount: PositiveFen


class RecordPayment(Command, tag="RecordPayment", kw_only=True):
    payment_id: Id
    customer_id: Id
    amount: PositiveFen
    received_on: date
    allocations: Annotated[list[Allocation], Meta(max_length=MAX_ITEMS)] | None = None
    currency: Currency | None = None


class WriteOffReceivable(Command, tag="WriteOffReceivable", kw_only=True):
    writeoff_id: Id
    sale_id: Id
    amount: PositiveFen
    approved_by: Id
    reason: Text
    currency: Currency | None = None


# --- budgets and expenses -------------------------------------------------------------------


class AllocateBudget(Command, tag="AllocateBudget", kw_only=True):
    budget_id: Id
    department: Text
    category: Id
    period: Id
    amount: NonNegativeFen
    approved_by: Id
    currency: Currency | None = None


class AdjustBudget(Command, tag="AdjustBudget", kw_only=True):
    budget_id: Id
    delta: Fen
    approved_by: Id
    reason: Text
    currency: Currency | None = None


class SubmitExpense(Command, tag="SubmitExpense", kw_only=True):
    expense_id: Id
    budget_id: Id
    amount: PositiveFen
    description: Text
    planned_on: date
    activity: bool = False
    currency: Currency | None = None


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
    currency: Currency | None = None


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
    currency: Currency | None = None


class PayCommission(Command, tag="PayCommission", kw_only=True):
    payout_id: Id
    rep_id: Id
    period: Id
    amount: PositiveFen
    paid_on: date
    currency: Currency | None = None


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
    event_refs: Annotated[list[Id | Position], Meta(max_length=MAX_ITEMS)] | None = None


class ResolveDispute(Command, tag="ResolveDispute", kw_only=True):
    dispute_id: Id
    outcome: Literal["upheld", "rejected"]
    reason: Text
    correction_command_id: Id | None = None
    correction_actor: Id | None = None  # who recorded it, when several users used that id


# --- corrections (SPEC 2.7) -----------------------------------------------------------------


class Reverse(Command, tag="Reverse", kw_only=True):
    reversal_id: Id
    target_command_id: Id
    reason: Text
    approved_by: Id
    # who recorded the target command (the idempotency key is the actor and the
    # command_id, SPEC 1); needed only when several users applied a command under that id
    target_actor: Id | None = None


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
    ResolveDispute, Reverse, GrantApproval,
)
COMMAND_NAMES = tuple(t.__struct_config__.tag for t in COMMAND_TYPES)
AnyCommand = Union[COMMAND_TYPES]  # type: ignore[valid-type]  # noqa: UP007 - a Union built from a tuple
# each command's type by its name: ``decode_command`` converts to the one type the body
# names (the same struct and the same errors as converting to ``AnyCommand``, whose tag
# it is, without msgspec looking the whole union up on every call: ~10x faster)
COMMAND_BY_NAME: dict[str, type[Command]] = {
    t.__struct_config__.tag: t for t in COMMAND_TYPES  # type: ignore[misc]
}

_body_encoder = msgspec.json.Encoder(order="sorted")
_FIELD_AT = re.compile(r"at `\$(?:\.)?([^`]*)`")


def body_hash(body: dict[str, Any]) -> str:
    """Identity of a command's body, for idempotency: sha256 of its canonical JSON."""
    return hashlib.sha256(_body_encoder.encode(body)).hexdigest()


_ID_RE = re.compile(_NO_CONTROL)


def valid_id(value: Any) -> bool:
    """Whether ``value`` decodes as an ``Id`` (1..200 characters, no control character)."""
    return isinstance(value, str) and 0 < len(value) <= 200 and bool(_ID_RE.match(value))


def check_body(body: Any) -> None:
    """The bounds of SPEC 1 / 5.4 on a decoded JSON body, before anything else reads it:
    nesting depth, entries per list or object, string length and control characters, and
    the size of the whole command. Raises ``invalid_field`` naming the first offending
    place (in document order). A plain body within bounds passes a quick check; any
    other is walked place by place."""
    if not isinstance(body, dict):
        raise Rejection("invalid_field", "a command must be a JSON object", field="$")
    if not _within_bounds(body, 1):
        _find_out_of_bounds(body)
    size = len(_body_encoder.encode(body))
    if size > MAX_COMMAND_BYTES:
        raise Rejection("invalid_field",
                        f"$: the command is {size} bytes of JSON, at most {MAX_COMMAND_BYTES}",
                        field="$", size=size, max_bytes=MAX_COMMAND_BYTES)


def _within_bounds(value: Any, depth: int) -> bool:
    """Whether ``value`` (at nesting ``depth``) is surely within the bounds: the fast
    answer for plain JSON values. False also when it cannot tell (a subclass, another
    type): ``_find_out_of_bounds`` then walks it and names the first offence, if any."""
    t = type(value)
    if t is str:
        return (len(value) <= MAX_STRING and _FORBIDDEN.search(value) is None
                and (value.isascii() or _encodes(value)))
    if t is int:
        return -(2**63) < value < 2**63
    if t is dict:
        if depth > MAX_DEPTH or len(value) > MAX_ITEMS:
            return False
        for key, item in value.items():
            if type(key) is not str or not _within_bounds(key, depth):
                return False
            if not _within_bounds(item, depth + 1):
                return False
        return True
    if t is list:
        if depth > MAX_DEPTH or len(value) > MAX_ITEMS:
            return False
        return all(_within_bounds(item, depth + 1) for item in value)
    return value is None or t is bool


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _find_out_of_bounds(body: dict[str, Any]) -> None:
    """Walk ``body`` in document order and raise ``invalid_field`` at the first place out
    of bounds. Iterative: a deep body cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(body, "$", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value, where)
        elif isinstance(value, int) and not isinstance(value, bool):
            # a number no amount can be: refuse before any code converts or stores it
            if not -(2**63) < value < 2**63:
                raise _invalid_at(where, "a number outside the 64-bit range",
                                  max=MAX_AMOUNT)
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise _invalid_at(where, "must be a finite number")
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise _invalid_at(where, f"nested more than {MAX_DEPTH} levels deep",
                                  max_depth=MAX_DEPTH)
            if len(value) > MAX_ITEMS:
                raise _invalid_at(where, f"{len(value)} entries, at most {MAX_ITEMS}",
                                  count=len(value), max_items=MAX_ITEMS)
            # pushed in reverse, so the first offending place in document order answers
            if isinstance(value, dict):
                for key in value:
                    if not isinstance(key, str):  # pragma: no cover - JSON keys are strings
                        raise _invalid_at(where, "object keys must be strings")
                    _check_string(key, f"{where}.{_printable(key)}")
                stack.extend((item, _join(where, key), depth + 1)
                             for key, item in reversed(value.items()))
            else:
                stack.extend((value[i], f"{where}[{i}]", depth + 1)
                             for i in range(len(value) - 1, -1, -1))


def _join(where: str, key: str) -> str:
    return key if where == "$" else f"{where}.{key}"


def _printable(text: str) -> str:
    return _FORBIDDEN.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text[:50])


def _check_string(text: str, where: str) -> None:
    if len(text) > MAX_STRING:
        raise _invalid_at(where, f"{len(text)} characters, at most {MAX_STRING}",
                          length=len(text), max_length=MAX_STRING)
    m = _FORBIDDEN.search(text)
    if m:
        raise _invalid_at(where, f"control character U+{ord(m.group(0)):04X} is not allowed",
                          position=m.start())
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _invalid_at(where, "not valid Unicode text (a lone surrogate)",
                          position=e.start) from None


def _invalid_at(where: str, message: str, **details: Any) -> Rejection:
    field = where[2:] if where.startswith("$.") else where
    return Rejection("invalid_field", f"{field}: {message}", field=field, **details)


def _check_times(cmd: Any) -> None:
    """Every date and time within 1900-01-01..9999-12-31, and a time also in UTC and in
    company time (an offset must not carry it out of the calendar)."""
    from ledger.domain.calendar import company_tz

    for field_name in cmd.__struct_fields__:
        value = getattr(cmd, field_name)
        if isinstance(value, datetime):
            try:
                days = (value.astimezone(UTC).date(),
                        value.astimezone(company_tz()).date(), value.date())
            except (OverflowError, ValueError):
                days = ()  # type: ignore[assignment]
            if len(days) != 3 or any(not MIN_YEAR <= d.year <= MAX_YEAR for d in days):
                raise Rejection(
                    "invalid_field",
                    f"{field_name}: {value.isoformat()} is outside "
                    f"{MIN_YEAR}-01-01..{MAX_YEAR}-12-31", field=field_name,
                    value=value.isoformat())
        elif isinstance(value, date) and not MIN_YEAR <= value.year <= MAX_YEAR:
            raise Rejection(
                "invalid_field",
                f"{field_name}: {value.isoformat()} is outside "
                f"{MIN_YEAR}-01-01..{MAX_YEAR}-12-31", field=field_name,
                value=value.isoformat())


def _check_lines(cmd: Any) -> None:
    """SPEC 1: each line's quantity x unit price, and the sale's gross before tax, at most
    10^13 fen."""
    lines = getattr(cmd, "lines", None)
    if not isinstance(cmd, RecordSale) or not lines:
        return
    gross = 0
    for i, line in enumerate(lines):
        amount = line.quantity * line.unit_price
        if amount > MAX_AMOUNT:
            raise Rejection(
                "invalid_field",
                f"lines[{i}]: quantity {line.quantity} x unit price {line.unit_price} = "
                f"{amount} fen, more than {MAX_AMOUNT}", field=f"lines[{i}]",
                amount=amount, max=MAX_AMOUNT)
        gross += amount
    if gross > MAX_AMOUNT:
        raise Rejection("invalid_field",
                        f"lines: the sale's lines total {gross} fen, more than {MAX_AMOUNT}",
                        field="lines", amount=gross, max=MAX_AMOUNT)


def decode_command(body: Any, *, checked: bool = False) -> Command:
    """Turn a JSON object into a typed command, or raise ``invalid_field``. ``checked``:
    the caller has already passed the body through ``check_body``."""
    if not checked:
        check_body(body)
    name = body.get("command")
    if name not in COMMAND_NAMES:
        raise Rejection(
            "invalid_field", f"command: unknown command {name!r}", field="command",
            allowed=list(COMMAND_NAMES),
        )
    try:
        cmd = msgspec.convert(body, COMMAND_BY_NAME[name], strict=True)
    except msgspec.ValidationError as e:
        text = str(e)
        m = _FIELD_AT.search(text)
        field = m.group(1) if m and m.group(1) else None
        if field is None and text.startswith("Object missing required field") or field is None and text.startswith("Object contains unknown field"):
            field = text.split("`")[1]
        raise Rejection("invalid_field", f"{field or '$'}: {text}", field=field or "$") from None
    _check_times(cmd)
    _check_lines(cmd)
    return cmd


def command_name(cmd: Command) -> str:
    return type(cmd).__struct_config__.tag  # type: ignore[return-value]
