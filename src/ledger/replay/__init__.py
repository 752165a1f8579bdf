"""Replay and audit tooling (SPEC 4): reads the log, never writes to it."""
