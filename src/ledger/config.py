"""The database a ledger runs on (SPEC 5.1). ``ledger.bootstrap`` reads the environment;
this module only parses what it read.

``LEDGER_DATABASE_URL`` is ``sqlite:///PATH`` (the embedded default when unset:
``sqlite:///./ledger.db``) or ``postgresql://user:password@host:port/dbname``. A
``?schema=NAME`` query parameter puts the ledger's tables in that PostgreSQL schema
(created if missing), which is how the tests give each test a fresh schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from ledger.store.pg_fast import FastPostgresLedgerRecorder
from ledger.store.recorders import SQLiteLedgerRecorder

DATABASE_URL_ENV = "LEDGER_DATABASE_URL"  # named in errors (read by ledger.bootstrap)
DEFAULT_DATABASE_URL = "sqlite:///./ledger.db"
SQLITE_LOCK_TIMEOUT_SECONDS = 30
POSTGRES_LOCK_TIMEOUT_SECONDS = 30
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Database:
    url: str
    kind: str  # "sqlite" | "postgres"
    env: dict[str, str]  # eventsourcing environment for this database
    schema: str = ""

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"


def parse_database_url(url: str, *, pool_size: int = 4, pool_max_overflow: int = 8,
                       default_user: str = "postgres") -> Database:
    """The database of ``url``; PostgreSQL connects with a pool of ``pool_size`` (plus
    ``pool_max_overflow``) connections, as ``default_user`` when the URL names no user."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"{DATABASE_URL_ENV}: expected sqlite:///PATH, got {url!r}")
        return Database(
            url=url,
            kind="sqlite",
            env={
                "PERSISTENCE_MODULE": "ledger.store.sqlite:Factory",
                "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
                "APPLICATION_RECORDER_TOPIC": _topic(SQLiteLedgerRecorder),
            },
        )
    if parsed.scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        query = parse_qs(parsed.query)
        schema = (query.get("schema") or [""])[0]
        dbname = (parsed.path or "/").lstrip("/")
        if not dbname:
            raise ConfigError(f"{DATABASE_URL_ENV}: no database name in {url!r}")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(dbname),
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or default_user),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_max_overflow),
            "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_SECONDS),
            "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_CONNECT_TIMEOUT_SECONDS),
            "APPLICATION_RECORDER_TOPIC": _topic(FastPostgresLedgerRecorder),
        }
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return Database(url=url, kind="postgres", env=env, schema=schema)
    raise ConfigError(
        f"{DATABASE_URL_ENV} must start with sqlite:/// or postgresql://, got {url!r}"
    )


def ensure_schema(db: Database) -> None:
    """Create the PostgreSQL schema named in the URL, if any."""
    if not db.is_postgres or not db.schema:
        return
    import psycopg
    from psycopg.sql import SQL, Identifier

    e = db.env
    with psycopg.connect(
        dbname=e["POSTGRES_DBNAME"], host=e["POSTGRES_HOST"], port=e["POSTGRES_PORT"],
        user=e["POSTGRES_USER"], password=e["POSTGRES_PASSWORD"], autocommit=True,
    ) as conn:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(db.schema)))


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"
