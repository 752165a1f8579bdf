"""Persistence adapters: the msgspec transcoder, recorders and database configuration."""
