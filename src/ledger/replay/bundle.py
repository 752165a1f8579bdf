"""Evidence files (SPEC 4 evidence export; SPEC 5.3 ``export`` and ``verify --bundle``):
what a file holds, and how it is checked with no database at all.

**The file** (JSON, ``format: "ledger-evidence/1"``), written by ``ledger export``
(``ledger.replay.export``)::

    {"format": "ledger-evidence/1",
     "subject": {"kind": "commission" | "receivable" | "budget", "entity": ID,
                 "rep_id", "period", "customer_id", "sale_id", "budget_id", "as_of",
                 "clock": the export's "now" (ISO 8601; receivables age as of it)},
     "exported_at": ISO 8601,
     "log": {"position", "head", "tree_size", "root"},   the log when exported
     "events": [{"position", "index", "originator_id", "originator_version", "topic",
                 "state" (base64 of the stored payload bytes), "prev_position",
                 "prev_hash", "hash", "proof": [hex, ...]}],   in log order
     "checkpoint": a signed checkpoint file's content (ledger.replay.checkpoint) or null,
     "consistency_proof": [hex, ...] from the checkpoint's tree to ``log``'s (or []),
     "explanation": the ``replay explain`` document of the subject,
     "figures": the query's document (``commission``, ``receivables`` or ``budget``)}

**Checking** (``verify_bundle``), each failure a named problem:

- ``altered``: an event's chain hash, recomputed from ``prev_hash`` and its stored header
  and payload bytes (``ledger.replay.chain``), is not its ``hash``;
- ``not_included``: its RFC 9162 inclusion proof does not lead from ``hash`` (leaf
  ``index``) to ``log.root`` of ``log.tree_size`` events (a hash made up to fit an
  altered payload fails here);
- ``chain_link``: an event whose ``prev_position`` is the event listed before it does not
  carry that event's hash as ``prev_hash``;
- ``order``: positions or leaf indexes not increasing;
- ``signature`` / ``consistency``: the checkpoint's Ed25519 signature does not verify, or
  the consistency proof does not show ``log``'s tree extends the signed one (so every
  included event is also under the signed root); ``key_untrusted`` when the caller pins
  the company's public key and the checkpoint was signed with another;
- ``missing_event``: a step of the explanation names a position the file does not hold;
- ``explanation_differs`` / ``figure_differs``: the projections re-run over the file's
  own events (into a temporary SQLite sandbox, the same projection code and the same
  explain and query functions) do not give the explanation or the figures the file states.

What the file cannot prove: that no other event of the log bears on the figure. The
events it holds are proven to be in the log (under the signed root, when a checkpoint is
present); the exporter picks them and checks, before writing, that they reproduce the
figures (``ledger.replay.export``).
"""

from __future__ import annotations

import base64
import contextlib
import struct
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from ledger.replay import merkle
from ledger.replay.chain import event_hash

FORMAT = "ledger-evidence/1"

# the projections the three explanations and their queries read
def replay_projections() -> list[type[Any]]:
    from ledger.projections.audit import AuditProjection
    from ledger.projections.budgets import BudgetsProjection
    from ledger.projections.commissions import CommissionsProjection
    from ledger.projections.disputes import DisputesProjection
    from ledger.projections.receivables import ReceivablesProjection

    return [CommissionsProjection, ReceivablesProjection, BudgetsProjection, AuditProjection,
            DisputesProjection]


class BundleError(Exception):
    """A file that is not an evidence file at all (not JSON, wrong format): exit 2."""


# --- the subject's documents, on any projector -----------------------------------------------


def documents(projector: Any, subject: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(explanation, figures) of ``subject`` read from ``projector``."""
    from ledger.projections.budgets import query_budget
    from ledger.projections.commissions import query_commission
    from ledger.projections.receivables import query_receivables
    from ledger.replay.explain import explain_budget, explain_commission, explain_receivable

    kind = subject["kind"]
    if kind == "commission":
        return (explain_commission(projector, subject["rep_id"], subject["period"]),
                query_commission(projector, subject["rep_id"], subject["period"]))
    if kind == "receivable":
        return (explain_receivable(projector, subject["customer_id"], subject.get("sale_id"),
                                   subject.get("as_of")),
                query_receivables(projector, subject["customer_id"], subject.get("as_of")))
    if kind == "budget":
        return (explain_budget(projector, subject["budget_id"]),
                query_budget(projector, subject["budget_id"]))
    raise BundleError(f"unknown subject kind {kind!r}")


def normal(document: Any) -> Any:
    """A document as its JSON text reads back (what the file holds)."""
    return msgspec.json.decode(msgspec.json.encode(document))


# --- replay of a list of stored events, in a throwaway SQLite store --------------------------


@contextlib.contextmanager
def replayed(events: Sequence[dict[str, Any]], clock: datetime) -> Iterator[Any]:
    """A projector over only ``events`` (file entries: position, originator_id,
    originator_version, topic, state), kept at their own log positions, in a temporary
    SQLite store; the ledger's clock stands at ``clock``."""
    from eventsourcing.persistence import Mapper, StoredEvent

    from ledger.projections.engine import ListSource
    from ledger.replay.sandbox import sandbox
    from ledger.store.transcoder import MsgspecTranscoder

    mapper: Mapper[Any] = Mapper(transcoder=MsgspecTranscoder())
    source = ListSource([
        (e["position"], mapper.to_domain_event(StoredEvent(
            originator_id=UUID(e["originator_id"]), originator_version=e["originator_version"],
            topic=e["topic"], state=_state(e))))
        for e in events])
    with sandbox(source, projections=replay_projections(), clock=lambda: clock) as projector:
        yield projector


def _state(entry: dict[str, Any]) -> bytes:
    return base64.b64decode(entry["state"], validate=True)


# --- verification --------------------------------------------------------------------------------


def read(path: Path) -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise BundleError(f"cannot read {path}: {e.strerror}") from None
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError as e:
        raise BundleError(f"{path} is not JSON: {e}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BundleError(f"{path} is not a ledger evidence file (format {FORMAT!r})")
    return document


def _hex(text: Any) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def check_events(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The hashes, links and inclusion proofs of the file's events (module docstring)."""
    problems: list[dict[str, Any]] = []
    log = bundle.get("log") or {}
    root, size = _hex(log.get("root")), log.get("tree_size")
    if root is None or not isinstance(size, int):
        return [{"problem": "malformed", "position": None,
                 "detail": "the file names no log root and tree size"}]
    previous: dict[str, Any] | None = None
    for e in bundle.get("events") or []:
        position = e.get("position")
        try:
            prev, claimed = _hex(e["prev_hash"]), _hex(e["hash"])
            if prev is None or claimed is None:
                raise ValueError("hashes are not hex")
            recomputed = event_hash(prev, int(position), UUID(e["originator_id"]),
                                    int(e["originator_version"]), str(e["topic"]), _state(e))
        except (KeyError, ValueError, TypeError, struct.error) as bad:
            problems.append({"problem": "malformed", "position": position,
                             "detail": f"the event entry cannot be read: {bad}"})
            previous = e
            continue
        if recomputed != claimed:
            problems.append({"problem": "altered", "position": position, "detail": (
                f"the event at position {position} does not match its chain hash: its "
                f"payload or header was changed (recomputed {recomputed.hex()}, the file "
                f"says {claimed.hex()})")})
        proof = [_hex(p) for p in e.get("proof") or []]
        index = e.get("index")
        if not isinstance(index, int) or any(p is None for p in proof) or not merkle.verify_inclusion(
                index, size, merkle.leaf_hash(claimed), proof, root):  # type: ignore[arg-type]
            problems.append({"problem": "not_included", "position": position, "detail": (
                f"the inclusion proof of the event at position {position} (leaf {index}) does "
                f"not lead to the log's root {log.get('root')} of {size} events")})
        if previous is not None and isinstance(previous.get("index"), int):
            if not (isinstance(index, int) and int(position) > int(previous["position"])
                    and index > previous["index"]):
                problems.append({"problem": "order", "position": position, "detail": (
                    f"position {position} (leaf {index}) does not follow position "
                    f"{previous['position']} (leaf {previous['index']})")})
            elif e.get("prev_position") == previous["position"] and e["prev_hash"] != previous["hash"]:
                problems.append({"problem": "chain_link", "position": position, "detail": (
                    f"the event at position {position} is chained to position "
                    f"{previous['position']} but not to its hash")})
        previous = e
    return problems


def check_checkpoint(bundle: dict[str, Any], trusted_key: bytes | None) -> list[dict[str, Any]]:
    from ledger.replay import checkpoint as cps

    found = bundle.get("checkpoint")
    if found is None:
        return []
    try:
        cp = msgspec.convert(found, type=cps.Checkpoint)
    except msgspec.ValidationError as e:
        return [{"problem": "malformed", "position": None, "detail": f"checkpoint: {e}"}]
    problems = []
    if not cps.signature_valid(cp):
        problems.append({"problem": "signature", "position": cp.position, "detail": (
            "the checkpoint's signature does not verify with its public key")})
    if trusted_key is not None and _hex(cp.public_key) != trusted_key:
        problems.append({"problem": "key_untrusted", "position": cp.position, "detail": (
            "the checkpoint is signed with another key than the one given")})
    log = bundle.get("log") or {}
    old_root, new_root = _hex(cp.root), _hex(log.get("root"))
    proof = [_hex(p) for p in bundle.get("consistency_proof") or []]
    size = log.get("tree_size")
    if (old_root is None or new_root is None or not isinstance(size, int)
            or any(p is None for p in proof)
            or not merkle.verify_consistency(cp.tree_size, size, old_root, new_root, proof)):  # type: ignore[arg-type]
        problems.append({"problem": "consistency", "position": cp.position, "detail": (
            f"the log's tree of {size} events (root {log.get('root')}) is not shown to extend "
            f"the checkpoint's tree of {cp.tree_size} events (root {cp.root})")})
    return problems


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON documents first differ (for the problem's detail)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
        if len(a) != len(b):
            return f"{path or '$'}: {len(a)} items in the file, {len(b)} replayed"
    return f"{path or '$'}: the file says {a!r}, the replay gives {b!r}"


def check_replay(bundle: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Re-run the subject's explanation and query over the file's own events."""
    from ledger.projections.errors import QueryError

    problems: list[dict[str, Any]] = []
    events = bundle.get("events") or []
    held = {e.get("position") for e in events}
    explanation = bundle.get("explanation") or {}
    for step in explanation.get("steps") or []:
        if step.get("position") is not None and step["position"] not in held:
            problems.append({"problem": "missing_event", "position": step["position"], "detail": (
                f"the explanation's step at position {step['position']} ({step.get('rule')}) "
                "names an event the file does not hold")})
    subject = bundle.get("subject") or {}
    try:
        clock = datetime.fromisoformat(subject["clock"])
        with replayed(events, clock) as projector:
            explained, figures = (normal(d) for d in documents(projector, subject))
    except QueryError as e:
        problems.append({"problem": "figure_differs", "position": None,
                         "detail": f"the file's events do not answer the subject: {e.message}"})
        return problems, None
    except Exception as e:  # noqa: BLE001 - a tampered payload may break any projection
        problems.append({"problem": "malformed", "position": None,
                         "detail": f"the events cannot be replayed: {type(e).__name__}: {e}"})
        return problems, None
    if explained != explanation:
        problems.append({"problem": "explanation_differs", "position": None, "detail": (
            "the explanation replayed from the file's events is not the file's: "
            + _first_difference(explanation, explained))})
    if figures != bundle.get("figures"):
        problems.append({"problem": "figure_differs", "position": None, "detail": (
            "the figures replayed from the file's events are not the file's: "
            + _first_difference(bundle.get("figures"), figures))})
    return problems, {"figure": explained.get("figure"), "value": explained.get("value")}


def verify_bundle(bundle: dict[str, Any], trusted_key: bytes | None = None) -> dict[str, Any]:
    """``verify --bundle FILE --json``: ``{ok, bundle: {subject, events, log, checkpoint},
    replayed: {figure, value}, problems: [{problem, position, detail}]}``."""
    problems = check_events(bundle) + check_checkpoint(bundle, trusted_key)
    replay_problems, replayed_value = check_replay(bundle)
    problems += replay_problems
    cp = bundle.get("checkpoint")
    return {
        "ok": not problems,
        "bundle": {
            "subject": bundle.get("subject"), "events": len(bundle.get("events") or []),
            "log": bundle.get("log"),
            "checkpoint": None if cp is None else {
                k: cp.get(k) for k in ("position", "tree_size", "root", "signed_at",
                                       "key_fingerprint")},
        },
        "replayed": replayed_value,
        "stated": {"figure": (bundle.get("explanation") or {}).get("figure"),
                   "value": (bundle.get("explanation") or {}).get("value")},
        "problems": problems,
    }
