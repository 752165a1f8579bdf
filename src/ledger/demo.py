"""A generated company for ``ledger demo`` and for benchmarks.

Deterministic for a seed: the same seed gives the same commands, byte for byte. The
company: finance, directors, managers, sales admins and a service account; a training
tree of sales reps; customers with credit limits (some slow payers, a few that never pay
and are written off, with a partial recovery); a year of sales with list-price discounts
approved by managers and directors, returns, payments, marketing budgets and expenses
(including a late activity filing and an overspend attempt), and the twelve month
closes. Commands come out in business-time order, as a real company would send them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ledger.domain.calendar import add_months, month_of

TZ = timezone(timedelta(hours=8))  # company time (Asia/Shanghai has no DST)

STAFF = {
    "fin-li": ["finance"], "fin-wang": ["finance"],
    "dir-zhao": ["director"], "dir-chen": ["director"],
    "mgr-east": ["manager"], "mgr-west": ["manager"], "mgr-north": ["manager"],
    "sa-zhou": ["sales_admin"], "sa-wu": ["sales_admin"],
    "svc-orders": ["service"],
    "aud-sun": ["auditor"],
}
REGIONS = ("east", "west", "north")
MANAGER_OF = {"east": "mgr-east", "west": "mgr-west", "north": "mgr-north"}
SKUS = {  # sku -> list price in fen (tax included)
    "TEA-100": 120_00, "TEA-250": 280_00, "TEA-GIFT": 880_00,
    "OIL-1L": 96_00, "OIL-5L": 430_00, "HONEY-500": 158_00,
}
CATEGORIES = ("advertising", "promotion", "hospitality", "market_research", "channel_building")
DEPARTMENTS = ("marketing-east", "marketing-west", "marketing-north")


@dataclass
class _Customer:
    customer_id: str
    region: str
    limit: int
    behaviour: str  # "prompt" | "slow" | "never"
    lateness: int = 0  # days a slow payer pays after the due date
    terms: int = 30
    open_items: list[list[Any]] = field(default_factory=list)  # [sale_id, due, open]


@dataclass
class Company:
    seed: int = 7
    year: int = 2025
    reps: int = 60
    customers: int = 300
    sales_per_rep_month: tuple[int, int] = (3, 9)

    def commands(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.seed)
        self._n = 0
        yield from self._setup(rng)
        customers = self._customers(rng)
        yield from (c for c, _ in customers)
        self.cust = [k for _, k in customers]
        reps = self._reps(rng)
        yield from (c for c, _ in reps)
        self.rep_ids = [r for _, r in reps]
        yield from self._budgets(rng)
        for m in range(1, 13):
            yield from self._month(rng, m)
        yield from self._year_end(rng)

    # --- helpers -------------------------------------------------------------------------

    def _cmd(self, command: str, actor: str, when: datetime, /, **fields: Any) -> dict[str, Any]:
        self._n += 1
        body: dict[str, Any] = {"command": command, "command_id": f"demo-{self.seed}-{self._n:06d}",
                                "actor": actor, "occurred_at": when.isoformat()}
        late = self._rng_late.random() < 0.02
        delay = timedelta(hours=self._rng_late.uniform(5, 30)) if late else timedelta(
            minutes=self._rng_late.randint(1, 180))
        body["reported_at"] = (when + delay).isoformat()
        body.update(fields)
        return body

    def _at(self, day: date, hour: int = 10, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)

    def _setup(self, rng: random.Random) -> Iterator[dict[str, Any]]:
        self._rng_late = random.Random(self.seed + 1)
        start = self._at(date(self.year - 1, 12, 1), 9)
        for user_id, roles in STAFF.items():
            yield self._cmd("RegisterUser", "admin", start, user_id=user_id,
                            name=user_id.replace("-", " ").title(), roles=roles)
        for sku, price in SKUS.items():
            yield self._cmd("SetListPrice", "sa-zhou", start, sku=sku, unit_price=price,
                            effective_from=f"{self.year - 1}-12-01", approved_by="dir-zhao")
        # a price rise in July
        yield self._cmd("SetListPrice", "sa-zhou", self._at(date(self.year, 6, 20)), sku="TEA-GIFT",
                        unit_price=920_00, effective_from=f"{self.year}-07-01", approved_by="dir-chen")

    def _customers(self, rng: random.Random) -> list[tuple[dict[str, Any], _Customer]]:
        out = []
        when = self._at(date(self.year - 1, 12, 2), 9)
        for i in range(1, self.customers + 1):
            region = REGIONS[i % 3]
            behaviour = rng.choices(("prompt", "slow", "never"), (0.8, 0.17, 0.03))[0]
            limit = rng.choice((50_000_00, 100_000_00, 200_000_00, 500_000_00))
            c = _Customer(f"CUST-{i:04d}", region, limit, behaviour, rng.choice((20, 45, 75, 110)))
            c.terms = rng.choice((30, 30, 30, 45, 60))
            out.append((self._cmd(
                "RegisterCustomer", "sa-wu", when, customer_id=c.customer_id,
                name=f"Customer {i:04d} Trading Co.", credit_limit=limit,
                payment_terms_days=c.terms, region=region), c))
        return out

    def _reps(self, rng: random.Random) -> list[tuple[dict[str, Any], str]]:
        """A training tree: 3 directors' lines, each rep trained by an earlier one."""
        out = []
        when = self._at(date(self.year - 1, 12, 3), 9)
        ids: list[str] = []
        for i in range(1, self.reps + 1):
            rep_id = f"REP-{i:03d}"
            region = REGIONS[i % 3]
            if i <= 3:
                rank, trainer = "SM", None
            elif i <= 12:
                rank, trainer = rng.choice(("SR", "SE", "SSE")), ids[(i - 1) % 3]
            else:
                rank, trainer = "SR", rng.choice(ids[: max(3, i // 2)])
            fields: dict[str, Any] = {"rep_id": rep_id, "name": f"Rep {i:03d}", "rank": rank,
                                      "region": region}
            if trainer:
                fields["trainer_id"] = trainer
            out.append((self._cmd("RegisterRep", "sa-zhou", when, **fields), rep_id))
            ids.append(rep_id)
        self.rep_region = {r: REGIONS[int(r[4:]) % 3] for r in ids}
        self.rep_skill = {r: rng.uniform(0.6, 1.6) for r in ids}
        return out

    def _budgets(self, rng: random.Random) -> Iterator[dict[str, Any]]:
        when = self._at(date(self.year - 1, 12, 15), 9)
        self.budgets = []
        self.budget_used: dict[str, int] = {}
        for dept in DEPARTMENTS:
            for cat in CATEGORIES:
                for q in range(1, 5):
                    budget_id = f"B-{dept[10:]}-{cat[:5]}-{self.year}Q{q}"
                    amount = rng.choice((80_000_00, 120_000_00, 200_000_00))
                    self.budgets.append((budget_id, dept, q, amount))
                    yield self._cmd("AllocateBudget", "fin-li", when, budget_id=budget_id,
                                    department=dept, category=cat, period=f"{self.year}-Q{q}",
                                    amount=amount, approved_by="dir-zhao")

    # --- one month -----------------------------------------------------------------------

    def _month(self, rng: random.Random, m: int) -> Iterator[dict[str, Any]]:
        first = date(self.year, m, 1)
        last = add_months(first, 1) - timedelta(days=1)
        events: list[tuple[datetime, dict[str, Any]]] = []
        for rep_id in self.rep_ids:
            n = max(0, round(rng.randint(*self.sales_per_rep_month) * self.rep_skill[rep_id]))
            for _ in range(n):
                day = first + timedelta(days=rng.randint(0, (last - first).days))
                events.append((self._at(day, rng.randint(9, 17), rng.randint(0, 59)), {"sale": rep_id}))
        # expenses: filed, approved, spent
        for budget_id, dept, q, _amount in self.budgets:
            if (m - 1) // 3 + 1 != q or rng.random() > 0.5:
                continue
            day = first + timedelta(days=rng.randint(0, 20))
            events.append((self._at(day, 11), {"expense": budget_id, "region": dept[10:],
                                                 "amount": rng.randint(5_000_00, 40_000_00)}))
        events.sort(key=lambda e: (e[0], str(e[1])))
        for when, what in events:
            if "sale" in what:
                yield from self._sale(rng, what["sale"], when)
            else:
                yield from self._expense(rng, what, when)
        yield from self._collections(rng, last)
        if m == 3:  # a marketing activity filed late, approved by a director
            yield from self._late_activity(date(self.year, 3, 10))
        if m == 5:  # an overspend attempt: rejected as budget_exceeded, nothing stored
            yield from self._overspend_attempt(date(self.year, 5, 12))
        close_day = last + timedelta(days=1)
        yield self._cmd("CloseMonth", "fin-li", self._at(close_day, 9), period=month_of(first))

    def _sale(self, rng: random.Random, rep_id: str, when: datetime) -> Iterator[dict[str, Any]]:
        region = self.rep_region[rep_id]
        candidates = [c for c in self.cust if c.region == region]
        c = rng.choice(candidates)
        day = when.date()
        if any((day - due).days > 90 for _, due, open_ in c.open_items if open_ > 0):
            return  # the rep knows: no sales to a customer with doubtful balances
        lines = []
        for sku in rng.sample(sorted(SKUS), rng.randint(1, 3)):
            list_price = SKUS[sku] if not (sku == "TEA-GIFT" and day >= date(self.year, 7, 1)) else 920_00
            quantity = rng.randint(2, 40)
            lines.append({"sku": sku, "quantity": quantity, "unit_price": list_price})
        fields: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.12:  # up to 10% off: a manager approves
            lines[0]["unit_price"] = lines[0]["unit_price"] * 95 // 100  # type: ignore[operator]
            fields["price_approved_by"] = MANAGER_OF[region]
        elif roll < 0.15:  # more than 10% off: a director approves
            lines[0]["unit_price"] = lines[0]["unit_price"] * 85 // 100  # type: ignore[operator]
            fields["price_approved_by"] = "dir-chen"
        gross = sum(line["quantity"] * line["unit_price"] for line in lines)  # type: ignore[operator]
        exposure = sum(o for _, _, o in c.open_items) + gross
        if exposure > c.limit:
            if rng.random() < 0.5:
                return
            fields["credit_approved_by"] = "fin-wang"
        self._sale_no = getattr(self, "_sale_no", 0) + 1
        sale_id = f"S{self.year}-{self._sale_no:06d}"
        terms = c.terms
        c.open_items.append([sale_id, day + timedelta(days=terms), gross])
        actor = "svc-orders" if rng.random() < 0.6 else "sa-zhou"
        yield self._cmd("RecordSale", actor, when, sale_id=sale_id, customer_id=c.customer_id,
                        rep_id=rep_id, invoice_no=f"FP{self.year}{self._sale_no:07d}", lines=lines,
                        **fields)
        if rng.random() < 0.03:  # a return a few days later
            amount = gross // rng.choice((2, 4, 1))
            back = when + timedelta(days=rng.randint(1, 6))
            if back.date() <= date(self.year, 12, 31) and month_of(back.date()) == month_of(day):
                for item in c.open_items:
                    if item[0] == sale_id:
                        item[2] -= min(item[2], amount)
                yield self._cmd("RecordReturn", "sa-wu", back, return_id=f"R-{sale_id}",
                                sale_id=sale_id, amount=amount, approved_by=MANAGER_OF[region],
                                reason="damaged in transit")

    def _collections(self, rng: random.Random, month_end: date) -> Iterator[dict[str, Any]]:
        """Customers pay what fell due: prompt payers on time, slow ones a fixed number of
        days late, 'never' customers not at all (written off at year end). Items are paid
        oldest first, as the ledger's FIFO settles them."""
        self._pay_no = getattr(self, "_pay_no", 0)
        for c in self.cust:
            lateness = {"prompt": 0, "slow": c.lateness, "never": 10_000}[c.behaviour]
            c.open_items.sort(key=lambda item: (item[1], item[0]))
            due_now = [item for item in c.open_items
                       if item[2] > 0 and item[1] + timedelta(days=lateness) <= month_end]
            if not due_now:
                continue
            amount = sum(item[2] for item in due_now)
            fields: dict[str, Any] = {}
            if rng.random() < 0.3:  # remittance advice names the invoices paid
                fields["allocations"] = [{"sale_id": item[0], "amount": item[2]} for item in due_now]
            for item in due_now:
                item[2] = 0
            self._pay_no += 1
            received = month_end - timedelta(days=rng.randint(0, 5))
            yield self._cmd("RecordPayment", rng.choice(("sa-wu", "fin-li")), self._at(received, 15),
                            payment_id=f"PAY-{self.year}-{self._pay_no:06d}",
                            customer_id=c.customer_id, amount=amount,
                            received_on=received.isoformat(), **fields)
            c.open_items = [i for i in c.open_items if i[2] > 0]

    def _expense(self, rng: random.Random, what: dict[str, Any], when: datetime) -> Iterator[dict[str, Any]]:
        used = self.budget_used.setdefault(what["expense"], 0)
        allocated = next(b[3] for b in self.budgets if b[0] == what["expense"])
        if used + what["amount"] * 110 // 100 > allocated:
            return  # the department knows its budget is spent
        self._exp_no = getattr(self, "_exp_no", 0) + 1
        expense_id = f"EXP-{self.year}-{self._exp_no:05d}"
        region = what["region"]
        submitter = f"sa-{'zhou' if region == 'east' else 'wu'}"
        planned = (when + timedelta(days=rng.randint(3, 20))).date()
        yield self._cmd("SubmitExpense", submitter, when, expense_id=expense_id,
                        budget_id=what["expense"], amount=what["amount"],
                        description="channel promotion materials", planned_on=planned.isoformat())
        yield self._cmd("ApproveExpense", MANAGER_OF[region], when + timedelta(hours=3),
                        expense_id=expense_id)
        if rng.random() < 0.1:
            yield self._cmd("RejectExpense", "fin-wang", when + timedelta(days=1),
                            expense_id=expense_id, reason="supplier could not invoice; withdrawn")
            return
        actual = what["amount"] * rng.randint(90, 109) // 100
        self.budget_used[what["expense"]] = used + actual
        paid = planned + timedelta(days=2)
        if paid.year != self.year:
            paid = date(self.year, 12, 31)
        yield self._cmd("RecordExpenseSpend", "fin-li", self._at(paid, 16), expense_id=expense_id,
                        amount=actual, invoice_no=f"FP-E{self._exp_no:06d}", paid_on=paid.isoformat())

    def _late_activity(self, day: date) -> Iterator[dict[str, Any]]:
        budget_id = self.budgets[1][0]  # a Q1 budget
        yield self._cmd("SubmitExpense", "mgr-east", self._at(day), expense_id="EXP-LATE-1",
                        budget_id=budget_id, amount=15_000_00, activity=True,
                        description="spring tea-tasting roadshow", planned_on=(day + timedelta(days=12)).isoformat())
        yield self._cmd("ApproveExpense", "mgr-west", self._at(day, 14), expense_id="EXP-LATE-1")
        yield self._cmd("ApproveExpense", "dir-zhao", self._at(day, 15), expense_id="EXP-LATE-1")

    def _overspend_attempt(self, day: date) -> Iterator[dict[str, Any]]:
        budget_id, _, _, amount = next(b for b in self.budgets if b[2] == 2)
        yield self._cmd("SubmitExpense", "sa-zhou", self._at(day), expense_id="EXP-BIG-1",
                        budget_id=budget_id, amount=amount + 1_000_00,
                        description="national TV slot", planned_on=(day + timedelta(days=40)).isoformat())
        yield self._cmd("ApproveExpense", "mgr-east", self._at(day, 15), expense_id="EXP-BIG-1")
        yield self._cmd("RejectExpense", "fin-li", self._at(day, 16), expense_id="EXP-BIG-1",
                        reason="over budget")

    def _year_end(self, rng: random.Random) -> Iterator[dict[str, Any]]:
        """Write off what 'never' customers owe on sales more than 180 days past due, and
        record a partial recovery on one of them."""
        day = date(self.year, 12, 28)
        recovered = False
        for c in self.cust:
            if c.behaviour != "never":
                continue
            for sale_id, due, open_ in c.open_items:
                if open_ > 0 and (day - due).days > 180:
                    yield self._cmd("WriteOffReceivable", "fin-li", self._at(day, 11),
                                    writeoff_id=f"WO-{sale_id}", sale_id=sale_id, amount=open_,
                                    approved_by="dir-zhao", reason="customer insolvent; collection failed")
                    if not recovered:
                        recovered = True
                        self._pay_no += 1
                        yield self._cmd("RecordPayment", "fin-li", self._at(day + timedelta(days=1), 15),
                                        payment_id=f"PAY-{self.year}-{self._pay_no:06d}",
                                        customer_id=c.customer_id, amount=open_ // 4,
                                        received_on=(day + timedelta(days=1)).isoformat(),
                                        allocations=[{"sale_id": sale_id, "amount": open_ // 4}])


def sales_file(count: int, seed: int = 11) -> Iterator[dict[str, Any]]:
    """Set-up commands, then ``count`` independent RecordSale commands (for the import
    benchmark): 200 customers with large limits, 100 reps, one SKU."""
    rng = random.Random(seed)
    when = datetime(2025, 1, 1, 9, tzinfo=TZ)
    n = 0

    def cmd(command: str, actor: str, t: datetime, /, **fields: Any) -> dict[str, Any]:
        nonlocal n
        n += 1
        return {"command": command, "command_id": f"bench-{seed}-{n:07d}", "actor": actor,
                "occurred_at": t.isoformat(), "reported_at": t.isoformat(), **fields}

    for user_id, roles in (("sa", ["sales_admin"]), ("dir", ["director"]), ("svc", ["service"])):
        yield cmd("RegisterUser", "admin", when, user_id=user_id, name=user_id, roles=roles)
    yield cmd("SetListPrice", "sa", when, sku="TEA-100", unit_price=120_00,
              effective_from="2025-01-01", approved_by="dir")
    for i in range(200):
        yield cmd("RegisterCustomer", "sa", when, customer_id=f"BC-{i:04d}", name=f"Bench {i}",
                  credit_limit=10**13, payment_terms_days=30, region="east")
    for i in range(100):
        yield cmd("RegisterRep", "sa", when, rep_id=f"BR-{i:03d}", name=f"Rep {i}", region="east")
    for i in range(count):
        t = when + timedelta(seconds=i * 10)
        yield cmd("RecordSale", "svc", t, sale_id=f"BS-{i:07d}", customer_id=f"BC-{rng.randrange(200):04d}",
                  rep_id=f"BR-{rng.randrange(100):03d}", invoice_no=f"FPB{i:08d}",
                  lines=[{"sku": "TEA-100", "quantity": rng.randint(1, 50), "unit_price": 120_00}])


def commission_payouts(months_by_rep: dict[str, list[dict[str, Any]]], up_to: date,
                       seed: int = 7) -> list[dict[str, Any]]:
    """Finance pays each closed month's balance on its payable date (the override part's
    date when later), for the dates up to ``up_to``: ``PayCommission`` commands from the
    commission accounts (``projections.commissions.statement_months``)."""
    out = []
    n = 0
    for rep_id in sorted(months_by_rep):
        for m in months_by_rep[rep_id]:
            paid_on = max(date.fromisoformat(m["payable_on"]), date.fromisoformat(m["override_payable_on"]))
            if m["balance"] <= 0 or paid_on > up_to:
                continue
            n += 1
            when = datetime(paid_on.year, paid_on.month, paid_on.day, 11, tzinfo=TZ)
            out.append({"command": "PayCommission", "command_id": f"demo-{seed}-pay-{n:05d}",
                        "actor": "fin-wang", "occurred_at": when.isoformat(),
                        "reported_at": (when + timedelta(minutes=20)).isoformat(),
                        "payout_id": f"PO-{rep_id}-{m['period']}", "rep_id": rep_id,
                        "period": m["period"], "amount": m["balance"],
                        "paid_on": paid_on.isoformat()})
    return out
