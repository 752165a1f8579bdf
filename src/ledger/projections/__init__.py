"""The read side (SPEC 3): one module per projection, all kept by one ``Projector``.

``ALL_PROJECTIONS`` lists the projection classes that ``ledger`` keeps up to date: the
read models of SPEC 3. ``ledger.projections.kpis`` (sales KPIs by rep and region) is not
among them: no query or report reads it, and keeping it would cost every catch-up a fifth
of its time; tests build it on purpose, as a second derivation of the receivables' figures.
"""

from __future__ import annotations

from ledger.projections.audit import AuditProjection
from ledger.projections.budgets import BudgetsProjection
from ledger.projections.commissions import CommissionsProjection
from ledger.projections.disputes import DisputesProjection
from ledger.projections.engine import Projection, Projector, Sql
from ledger.projections.general_ledger import GeneralLedger
from ledger.projections.policies import PoliciesProjection
from ledger.projections.receivables import ReceivablesProjection
from ledger.projections.trips import TripsProjection

ALL_PROJECTIONS: list[type[Projection]] = [
    GeneralLedger,
    CommissionsProjection,
    ReceivablesProjection,
    BudgetsProjection,
    AuditProjection,
    DisputesProjection,
    TripsProjection,
    PoliciesProjection,
]

__all__ = ["ALL_PROJECTIONS", "Projection", "Projector", "Sql"]
