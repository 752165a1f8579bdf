"""The OpenAPI document's finishing (issue 13): what FastAPI and msgspec do not say by
themselves, said from the domain's own constants.

- Commands (the request body of ``POST /v1/commands``) are the domain's msgspec structs;
  here they get the domain's vocabularies as enums (roles, ranks, budget categories,
  policies), money its bound (SPEC 1: at most 10^13 fen), rates and periods their
  patterns, ``actor`` made optional (the API fills it from the key), and the union of
  commands is a ``oneOf`` discriminated by ``command``.
- Every answer declares its headers: ``X-Request-ID`` on all, ``X-Ledger-Position`` (and
  a page's ``X-Next-Cursor`` and ``Link``) on reads and commands, ``WWW-Authenticate`` on
  401 and ``Retry-After`` on a read's 503.

Each refinement only adds what the generated schema lacks (``setdefault``): where the
domain's structs come to carry a bound themselves, theirs stands.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import commands as domain_commands
from ledger.domain.authority import ROLES
from ledger.domain.commands import COMMAND_NAMES
from ledger.domain.plan_schema import RANKS
from ledger.domain.policies import BUDGET_CATEGORIES, POLICY_NAMES

# SPEC 1: every amount, and a sale line's quantity x unit price, at most 10^13 fen (the
# domain's own figure when it names one).
MAX_AMOUNT: int = getattr(domain_commands, "MAX_AMOUNT", 10**13)
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
PERIOD = r"^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"  # a budget's YYYY, YYYY-Qn or YYYY-MM
RATE = r"^[0-9]{1,3}(\.[0-9]{1,12})?$"  # a decimal string, "0.13"

_AMOUNT = {"type": "integer", "maximum": MAX_AMOUNT}
_SIGNED_AMOUNT = {"type": "integer", "minimum": -MAX_AMOUNT, "maximum": MAX_AMOUNT}

# (component, property): what the property's schema gets.
COMMAND_REFINEMENTS: dict[tuple[str, str], dict[str, Any]] = {
    ("RegisterUser", "roles"): {"items": {"type": "string", "enum": list(ROLES)}},
    ("RegisterRep", "rank"): {"enum": list(RANKS)},
    ("ChangeRank", "rank"): {"enum": list(RANKS)},
    ("AllocateBudget", "category"): {
        "enum": list(BUDGET_CATEGORIES),
        "description": "A category of the `budget` policy in force (these are the default "
                       "policy's; an adopted version may name others)."},
    ("AdoptPolicy", "policy"): {"enum": list(POLICY_NAMES)},
    ("AllocateBudget", "period"): {"pattern": PERIOD},
    ("CloseMonth", "period"): {"pattern": MONTH},
    ("PayCommission", "period"): {"pattern": MONTH},
    ("OpenDispute", "period"): {"pattern": MONTH},
    ("SaleLine", "tax_rate"): {"pattern": RATE},
    ("SaleLine", "quantity"): {"maximum": MAX_AMOUNT},
    ("AdjustBudget", "delta"): _SIGNED_AMOUNT,
}
MONEY_FIELDS = ("amount", "credit_limit", "unit_price")
COMMAND_PARTS = ("SaleLine", "Allocation")


def _refine(prop: dict[str, Any], extra: dict[str, Any]) -> None:
    """Add ``extra`` to a property's schema (to its non-null branch when it is optional);
    what the schema already says stands, but ``items``, enums and patterns narrow it."""
    targets = [p for p in prop.get("anyOf", []) if p.get("type") != "null"] or [prop]
    for target in targets:
        for key, value in extra.items():
            if key == "items":
                target.setdefault("items", {}).update(
                    {k: v for k, v in value.items() if k not in target["items"] or k == "enum"})
            elif key in ("enum", "description", "pattern"):
                # a period's or rate's own pattern says more than an id's (no control
                # characters, which it implies)
                (prop if key == "description" else target)[key] = value
            else:
                target.setdefault(key, value)


def refine_commands(schemas: dict[str, Any]) -> None:
    """The command components, as the HTTP API takes them."""
    for name in COMMAND_NAMES:
        component = schemas.get(str(name))
        if component is None:
            continue
        required = component.get("required", [])
        if "actor" in required:
            required.remove("actor")
        actor = component.get("properties", {}).get("actor")
        if actor is not None:
            actor["description"] = ("The acting user. Optional: the API key's user; any other "
                                    "user is `not_authorized`.")
    for name in (*COMMAND_NAMES, *COMMAND_PARTS):
        properties = schemas.get(str(name), {}).get("properties", {})
        for field in MONEY_FIELDS:
            if field in properties:
                _refine(properties[field], _AMOUNT)
    for (name, field), extra in COMMAND_REFINEMENTS.items():
        prop = schemas.get(name, {}).get("properties", {}).get(field)
        if prop is not None:
            _refine(prop, extra)


def one_command(schema: dict[str, Any]) -> dict[str, Any]:
    """msgspec's union of the commands as a ``oneOf`` discriminated by ``command`` (each
    command's ``command`` is its own constant, so exactly one branch matches)."""
    out = dict(schema)
    if "anyOf" in out:
        out["oneOf"] = out.pop("anyOf")
    return out


def _header(description: str, schema: dict[str, Any], required: bool) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


REQUEST_ID = _header("The request's id: the caller's `X-Request-ID` when it is 1-128 of "
                     "`[A-Za-z0-9._:-]`, else a new one.", {"type": "string"}, True)
POSITION = _header("The log position the answer was read at (reads), or the highest "
                   "position of the answers' events (commands).",
                   {"type": "integer", "minimum": 0}, True)
NEXT_CURSOR = _header("When the answer's list continues: the next page's `cursor`.",
                      {"type": "string"}, False)
LINK = _header('When the answer\'s list continues: `<...>; rel="next"`, the next page.',
               {"type": "string"}, False)
WWW_AUTHENTICATE = _header("`Bearer`.", {"type": "string"}, True)
RETRY_AFTER = _header("Seconds to wait before retrying.", {"type": "integer", "minimum": 0},
                      True)


def plain_parameters(document: dict[str, Any], pattern: str) -> None:
    """Every string parameter without a pattern of its own gets ``pattern`` (no control
    characters; ``ledger.api.params.plain_parameters`` enforces it)."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                for branch in schema.get("anyOf", [schema]):
                    if branch.get("type") == "string":
                        branch.setdefault("pattern", pattern)


def declare_headers(document: dict[str, Any]) -> None:
    """The headers of every documented answer."""
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            read = method == "get" and path.startswith("/v1/")
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = REQUEST_ID
                if read and status == "200":
                    headers.update({"X-Ledger-Position": POSITION,
                                    "X-Next-Cursor": NEXT_CURSOR, "Link": LINK})
                elif path == "/v1/commands" and method == "post" and status != "401":
                    headers["X-Ledger-Position"] = {**POSITION, "required": False}
                if status == "401":
                    headers["WWW-Authenticate"] = WWW_AUTHENTICATE
                if status == "503" and read:
                    headers["Retry-After"] = RETRY_AFTER
