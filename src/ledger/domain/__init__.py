"""The domain: events, aggregates, policy tables, money and time, and the rules.

Nothing here imports FastAPI or SQL.
"""
