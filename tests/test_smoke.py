from support import applied, rejected, sale, setup_company


def test_sale_and_duplicate(ledger):
    setup_company(ledger)
    body = sale("S1", 10)
    first = applied(ledger, body)
    assert first["result"]["gross"] == 100_000
    again = ledger.execute_one(body)
    assert again["status"] == "duplicate"
    assert again["original"]["result"] == first["result"]
    rejected(ledger, sale("S1", 1), "duplicate_id")
