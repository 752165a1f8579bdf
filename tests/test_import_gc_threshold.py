"""The import raises the garbage collector's first threshold while it runs and puts it
back after, also when the import fails."""

from __future__ import annotations

import gc
from typing import Any

import msgspec
import pytest

from ledger.application import Ledger
from ledger.demo import sales_file
from ledger.service.importing import IMPORT_GC_THRESHOLD, import_lines


def test_the_threshold_is_raised_during_the_import_and_put_back(ledger: Ledger) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    handle = ledger.handle

    def spy(bodies: Any) -> Any:
        seen.append(gc.get_threshold())
        return handle(bodies)

    ledger.handle = spy  # type: ignore[method-assign]
    report = import_lines(ledger, [msgspec.json.encode(b) for b in sales_file(5)])
    assert report["applied"] == len(list(sales_file(5))) and not report["rejected"]
    assert seen and all(t[0] == max(before[0], IMPORT_GC_THRESHOLD) for t in seen)
    assert gc.get_threshold() == before

    def boom(bodies: Any) -> Any:
        raise RuntimeError("store down")

    ledger.handle = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        import_lines(ledger, [msgspec.json.encode(b) for b in sales_file(1)])
    assert gc.get_threshold() == before
