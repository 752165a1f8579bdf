"""A small company's money events with every figure worked by hand, shared by the
general-ledger and reconciliation tests.

List price of X: 1,130.00 (113,000 fen), VAT 13% included.

| date       | fact                                                        | fen                   |
|------------|-------------------------------------------------------------|-----------------------|
| 2024-01-02 | budget B1 (advertising, 2024) allocated                      | 1,000,000             |
| 2024-03-05 | sale S1 to C1: 10 x X = 11,300.00                            | VAT 130,000, net 1,000,000 |
| 2024-03-20 | payment P1 of 500,000 allocated to S1                        | S1 open 630,000       |
| 2024-03-25 | return RT1 of 800,000 on S1: 630,000 closes S1's open        |                       |
|            | amount, the 170,000 already paid becomes customer credit;   |                       |
|            | VAT round(800,000 x 0.13 / 1.13) = 92,035 (92,035.40)        | revenue 707,965       |
| 2024-04-02 | sale S2 to C1: 3 x X = 3,390.00, VAT 39,000, net 300,000;    |                       |
|            | C1's credit of 170,000 settles part of it                    | S2 open 169,000       |
| 2024-04-15 | expense E1 (approved 200,000) spent 210,000 (within 10%)     |                       |
| 2024-05-10 | write-off W1 of 100,000 on S2                                | S2 open 69,000        |
| 2024-05-20 | payment P2 of 150,000, 120,000 allocated to S2: 69,000       |                       |
|            | settles S2's open amount, 51,000 is a recovery of the        |                       |
|            | write-off; the 30,000 left has no open item: credit          |                       |
"""

from __future__ import annotations

from support import all_applied, at, cmd, sale, setup_company

LIST_PRICE = 113_000


def build(ledger) -> None:
    setup_company(ledger, list_price=LIST_PRICE)
    all_applied(ledger, [
        cmd("AllocateBudget", "fin", budget_id="B1", department="marketing", category="advertising",
            period="2024", amount=1_000_000, approved_by="dir", **at("2024-01-02")),
        sale("S1", 10, LIST_PRICE, day="2024-03-05"),
        cmd("RecordPayment", "fin", payment_id="P1", customer_id="C1", amount=500_000,
            received_on="2024-03-20", allocations=[{"sale_id": "S1", "amount": 500_000}],
            **at("2024-03-20")),
        cmd("RecordReturn", "sa", return_id="RT1", sale_id="S1", amount=800_000, approved_by="mgr",
            reason="damaged", **at("2024-03-25")),
        cmd("SubmitExpense", "sa", expense_id="E1", budget_id="B1", amount=200_000,
            description="spring campaign", planned_on="2024-04-10", **at("2024-03-01")),
        cmd("ApproveExpense", "mgr", expense_id="E1", **at("2024-03-02")),
        sale("S2", 3, LIST_PRICE, day="2024-04-02"),
        cmd("RecordExpenseSpend", "fin", expense_id="E1", amount=210_000, invoice_no="FP-1",
            paid_on="2024-04-15", **at("2024-04-15")),
        cmd("WriteOffReceivable", "fin", writeoff_id="W1", sale_id="S2", amount=100_000,
            approved_by="dir", reason="customer insolvent", **at("2024-05-10")),
        cmd("RecordPayment", "fin", payment_id="P2", customer_id="C1", amount=150_000,
            received_on="2024-05-20", allocations=[{"sale_id": "S2", "amount": 120_000}],
            **at("2024-05-20")),
    ])


# The trial balance after everything: (account, debit, credit), chart order.
FINAL = [
    ("cash", 440_000, 0),  # 500,000 + 150,000 - 210,000
    ("receivables", 0, 0),  # 1,130,000 - 500,000 - 630,000 + 339,000 - 170,000 - 100,000 - 69,000
    ("customer_credit", 0, 30_000),  # 170,000 - 170,000 + 30,000
    ("vat_payable", 0, 76_965),  # 130,000 - 92,035 + 39,000
    ("revenue", 0, 592_035),  # 1,000,000 - 707,965 + 300,000
    ("bad_debt_recovery_income", 0, 51_000),
    ("bad_debt_expense", 100_000, 0),
    ("marketing_expense:advertising", 210_000, 0),
]
FINAL_TOTAL = 750_000

# As of 2024-03-31: S1, P1 and RT1 only.
MARCH = [
    ("cash", 500_000, 0),
    ("receivables", 0, 0),
    ("customer_credit", 0, 170_000),
    ("vat_payable", 0, 37_965),  # 130,000 - 92,035
    ("revenue", 0, 292_035),  # 1,000,000 - 707,965
]
MARCH_TOTAL = 500_000
