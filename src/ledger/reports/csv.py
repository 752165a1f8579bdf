"""``--csv``: the rows a spreadsheet wants from each query document (issue 14).

One header row, then one row per item of the document's main list; the document's
identifying scalars (rep, period, customer, as-of date...) are repeated as the first columns
so rows pasted together stay attributable. Money in yuan with two decimals and no thousands
separators (``1234.56``), or in integer fen with ``fen=True``; dates ISO as in the JSON;
lists joined with ``;``; booleans ``true``/``false``; null empty.
"""

from __future__ import annotations

import csv as _csv
import io
from typing import Any

from ledger.reports import kind_of
from ledger.reports.fmt import MONEY_KEYS


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{frac:02d}"


def _value(key: str, value: Any, fen: bool, money: bool | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and (money if money is not None else key in MONEY_KEYS):
        return str(value) if fen else yuan(value)
    if isinstance(value, (list, tuple)):
        return ";".join(_value(key, v, fen, money) for v in value)
    if isinstance(value, dict):
        return ";".join(f"{k}={_value(k, v, fen)}" for k, v in value.items())
    return str(value)




def sheet(document: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of a document's CSV, values still as in the JSON; the document's
    ``currency`` (SPEC 1) as the last column of every row."""
    columns, rows = _sheet(document)
    if "currency" in document and "currency" not in columns:
        columns = [*columns, "currency"]
        rows = [{**r, "currency": document["currency"]} for r in rows]
    return columns, rows


def _sheet(document: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    d = document
    kind = kind_of(d)
    if kind == "commission":
        ids = {"rep_id": d["rep_id"], "period": d["period"]}
        rows = []
        for line in d["lines"]:
            ref = next((line[k] for k in ("sale_id", "return_id", "rep_id", "ref_id", "fine_id",
                                          "payout_id", "period") if line.get(k) is not None), None)
            rows.append({**ids, "line": line["type"], "ref": ref,
                         "date": line.get("date"), "sale_id": line.get("sale_id"),
                         "gross": line.get("gross"), "returned": line.get("returned"),
                         "share": line.get("share"), "personal_sales": line.get("personal_sales"),
                         "amount": line.get("amount"), "rate": line.get("rate"),
                         "note": line.get("note") or line.get("kind")})
        for figure in ("personal_sales", "commission", "morning_star_bonus", "opening_star_bonus",
                       "override", "adjustment", "carried", "clawback", "fines", "total",
                       "paid", "balance"):
            rows.append({**ids, "line": "figure", "ref": figure, "amount": d[figure],
                         "date": d["payable_on"] if figure == "total" else None,
                         "rate": d["rate"] if figure == "commission" else None})
        columns = ["rep_id", "period", "line", "ref", "date", "sale_id", "gross", "returned",
                   "share", "personal_sales", "amount", "rate", "note"]
        return columns, rows
    if kind == "receivables":
        return _list(d, "items", ["customer_id", "as_of"])
    if kind == "aging":
        rows = [{"as_of": d["as_of"], "dimension": "class", "name": k, "amount": v}
                for k, v in d["classes"].items()]
        rows += [{"as_of": d["as_of"], "dimension": "bucket", "name": k, "amount": v}
                 for k, v in d["buckets"].items()]
        rows.append({"as_of": d["as_of"], "dimension": "total", "name": "open", "amount": d["total"]})
        return ["as_of", "dimension", "name", "amount"], rows
    if kind == "budget":
        return _list(d, "expenses", ["budget_id"])
    if kind == "ranks":
        return _list(d, "history", ["rep_id"])
    if kind == "trial-balance":
        columns, rows = _list(d, "accounts", ["as_of"] if "as_of" in d else [])
        rows.append({**({"as_of": d["as_of"]} if "as_of" in d else {}), "account": "total",
                     "debit": d["debit_total"], "credit": d["credit_total"]})
        return columns, rows
    if kind in ("reconcile", "sod"):
        return _list(d, "checks", ["as_of"] if "as_of" in d else [])
    if kind == "audit":
        columns, rows = _list(d, "entries", [k for k in ("entity_id",) if k in d])
        if "actor" in d and "entries" in d and "answer" not in d:  # audit --actor: whose trail
            columns = ["audited_user", *columns]
            rows = [{"audited_user": d["actor"], **r} for r in rows]
        drop = {"details", "policies", "approver_roles", "actor_roles"}
        return [c for c in columns if c not in drop], rows
    if kind == "disputes":
        return _list(d, "disputes", [])
    if kind == "trips":
        return _list(d, "trips", ["rep_id", "year"])
    if kind == "policies":
        rows = [{"as_of": d["as_of"], "policy": name, "version": p.get("version"),
                 "effective_from": p.get("effective_from"), "key": k, "value": v}
                for name, p in d["policies"].items() for k, v in (p.get("values") or {}).items()]
        return ["as_of", "policy", "version", "effective_from", "key", "value"], rows
    if kind == "explain":
        return _list(d, "steps", ["figure"])
    if kind == "what-if":
        return _fixed(_list(d, "changes", ["position"]),
                      ["position", "projection", "key", "field", "live", "what_if", "difference"])
    if kind == "drift":
        return _fixed(_list(d, "differences", ["position"]),
                      ["position", "projection", "table", "missing", "unexpected"])
    if kind == "rebuild":
        return _list(d, "projections", [])
    scalars = {k: v for k, v in d.items() if not isinstance(v, (list, dict))}
    return list(scalars), [scalars]


def _fixed(sheet: tuple[list[str], list[dict[str, Any]]], columns: list[str]
           ) -> tuple[list[str], list[dict[str, Any]]]:
    """The named columns first (present even when there are no rows), then any others."""
    return columns + [c for c in sheet[0] if c not in columns], sheet[1]


def _list(d: dict[str, Any], key: str, ids: list[str]
          ) -> tuple[list[str], list[dict[str, Any]]]:
    items = d.get(key) or []
    columns = ids + [c for c in dict.fromkeys(k for r in items for k in r) if c not in ids]
    return columns, [{**{i: d.get(i) for i in ids}, **r} for r in items]


def to_csv(document: dict[str, Any], *, fen: bool = False) -> str:
    """The CSV text of a query document (header row first, ``\\r\\n`` line ends)."""
    columns, rows = sheet(document)
    kind = kind_of(document)
    buffer = io.StringIO()
    writer = _csv.writer(buffer)
    writer.writerow(columns)
    for r in rows:
        money = None
        if kind == "what-if":  # a change's values are money only when its field is
            money = r.get("field") in MONEY_KEYS
        writer.writerow([_value(c, r.get(c), fen,
                                money if c in ("live", "what_if", "difference") else None)
                         for c in columns])
    return buffer.getvalue()
