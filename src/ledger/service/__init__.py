"""The service layer: what runs a command between the edges (CLI, HTTP) and the domain.

- ``answers``: the typed answers (``Applied | Duplicate | Rejected``) and their documents;
- ``batches``: judging a batch of commands, segmenting around log readers, conflict retries;
- ``idempotency``: the idempotency key, first answers, stored rejections;
- ``unit_of_work``: a batch's aggregates and its save; the one module that touches the
  eventsourcing library's internals;
- ``importing``: the import use case (``ledger import``, the demo, the benchmarks).
"""
