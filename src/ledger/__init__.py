"""ledger: an event-sourced ledger and audit service for a ranked sales force."""

__version__ = "0.1.0"
