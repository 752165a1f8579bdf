"""The import use case (SPEC 5.3, ``ledger import``): one command per NDJSON line, applied
in batches of ``IMPORT_BATCH`` lines; each line counted applied, duplicate or rejected.

The report is the JSON document ``ledger import --json`` prints: ``applied``,
``duplicates`` and ``rejected`` (one ``{line, command_id, rule, message}`` per rejected
line, numbered from 1). Blank lines are skipped and not counted; a line that is not JSON
is rejected ``invalid_field`` without reaching the ledger.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import msgspec

from ledger.service.answers import Answer, Applied, Duplicate

# lines judged (and saved) together: one transaction each
IMPORT_BATCH = 1000
# the cyclic garbage collector's first threshold while an import runs (Python's default:
# 700 allocations): a command allocates a few hundred objects, nearly all freed by
# reference counting, and collecting every few commands cost ~10% of an import's time
IMPORT_GC_THRESHOLD = 50_000


class Commands(Protocol):
    """What the import applies commands through (``ledger.application.Ledger``)."""

    def handle(self, bodies: Sequence[Any]) -> list[Answer]: ...


class ProgressBar(Protocol):
    """What the import reports its progress to (a rich ``Progress`` is one)."""

    def add_task(self, description: str, *, total: float | None = ...) -> Any: ...

    def advance(self, task_id: Any, advance: float = ...) -> None: ...


def import_lines(ledger: Commands, lines: list[bytes],
                 progress: ProgressBar | None = None) -> dict[str, Any]:
    """Apply one command per line, in batches; the import report (SPEC 5.3)."""
    report: dict[str, Any] = {"applied": 0, "duplicates": 0, "rejected": []}
    numbered: list[tuple[int, Any]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            numbered.append((number, msgspec.json.decode(raw)))
        except msgspec.DecodeError as e:
            numbered.append((number, _BadJson(str(e))))
        except RecursionError:
            numbered.append((number, _BadJson("nested too deep")))
    task = progress.add_task("importing", total=len(numbered)) if progress else None
    with _collecting_less():
        _apply(ledger, numbered, report, progress, task)
    return report


@contextmanager
def _collecting_less() -> Iterator[None]:
    """The garbage collector's first threshold raised to ``IMPORT_GC_THRESHOLD`` for the
    import (never lowered), then put back."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], IMPORT_GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _apply(ledger: Commands, numbered: list[tuple[int, Any]], report: dict[str, Any],
           progress: ProgressBar | None, task: Any) -> None:
    for batch in iter_batches(numbered, IMPORT_BATCH):
        bodies = [body for _, body in batch if not isinstance(body, _BadJson)]
        answers = iter(ledger.handle(bodies)) if bodies else iter(())
        for number, body in batch:
            if isinstance(body, _BadJson):
                report["rejected"].append({"line": number, "command_id": None,
                                           "rule": "invalid_field",
                                           "message": f"line is not JSON: {body.message}"})
                continue
            answer = next(answers)
            if isinstance(answer, Applied):
                report["applied"] += 1
            elif isinstance(answer, Duplicate):
                report["duplicates"] += 1
            else:
                report["rejected"].append({"line": number, "command_id": answer.command_id,
                                           "rule": answer.rule, "message": answer.message})
        if progress and task is not None:
            progress.advance(task, len(batch))


class _BadJson:
    def __init__(self, message: str) -> None:
        self.message = message


def iter_batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
