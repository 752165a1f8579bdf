"""The planner's statistics of the projection tables (``bootstrap.refresh_statistics``):
tables filled since their last ANALYZE (by autovacuum's rule) are analyzed, then not again
until they change as much; SQLite needs none. No timing is asserted."""

from __future__ import annotations

import time

from support import sale, setup_company

from ledger.bootstrap import projector_for, refresh_statistics


def _analyzed(projector) -> dict[str, object]:
    with projector.transaction(commit=False) as sql:
        return {r["relname"]: r["last_analyze"] for r in sql.all(
            "SELECT relname, last_analyze FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema()")}


def test_tables_filled_since_their_last_analyze_are_analyzed_once(ledger):
    setup_company(ledger)
    for answer in ledger.execute([sale(f"S{i}") for i in range(80)]):
        assert answer["status"] == "applied", answer
    projector = projector_for(ledger)
    projector.catch_up()
    if not ledger.database.is_postgres:
        assert refresh_statistics(projector) == []
        return
    # PostgreSQL publishes a transaction's row counts within a second or so of its end
    deadline = time.monotonic() + 10
    analyzed: list[str] = []
    while "receivables_sales_g1" not in analyzed and time.monotonic() < deadline:
        analyzed += refresh_statistics(projector)
        time.sleep(0.2)
    assert {"receivables_sales_g1", "receivables_movements_g1", "receivables_balances_g1",
            "commissions_sales_g1"} <= set(analyzed)
    assert all(_analyzed(projector)[t] is not None for t in analyzed)
    assert "receivables_sales_g1" not in refresh_statistics(projector)  # fresh now
