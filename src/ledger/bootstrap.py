"""The composition root (ARCHITECTURE, Configuration and the composition root).

``Settings`` is built once, from the environment (``Settings.from_env``, the only place in
the package that reads it) or from arguments, and ``Runtime`` wires what the edges need
from it: the ledger (the write side), the live log as an event source, the projections'
store and the live projector. The CLI, the HTTP app, the demo, the benchmarks and the
tests build a ``Runtime`` (or a ``Settings``) and nothing else reads configuration.

"Catch up, then read" is written once, here: ``Runtime.query``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ledger.application import Ledger
from ledger.config import DATABASE_URL_ENV, DEFAULT_DATABASE_URL, ConfigError, Database, parse_database_url
from ledger.domain.calendar import DEFAULT_COMPANY_TZ, set_company_tz, utcnow
from ledger.projections.engine import Projection, Projector, refresh_statistics
from ledger.store.log import LogSource
from ledger.store.tracking import ProjectionStore

# Every environment variable the ledger reads (SPEC 5.1; README "Configuration").
TIMEZONE_ENV = "LEDGER_TIMEZONE"
KEYS_FILE_ENV = "LEDGER_API_KEYS_FILE"
SIGNING_KEY_ENV = "LEDGER_SIGNING_KEY_FILE"
# The PostgreSQL connection pool of each process (the library's own names): ``ledger serve
# --workers N`` sizes it to the workers through the environment its workers inherit.
POOL_SIZE_ENV = "POSTGRES_POOL_SIZE"
POOL_MAX_OVERFLOW_ENV = "POSTGRES_MAX_OVERFLOW"
DEFAULT_POOL_SIZE = 4
DEFAULT_POOL_MAX_OVERFLOW = 8
# A backlog this long is caught up with a progress bar by the CLI
PROGRESS_BACKLOG = 5000
# A read's catch-up that made this many event applications (events x projections
# reading them) refreshes the planner's statistics
STATISTICS_AFTER_EVENTS = 10_000


@dataclass(frozen=True)
class Settings:
    """Everything the ledger is configured with."""

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = DEFAULT_COMPANY_TZ
    keys_file: str | None = None
    signing_key_file: str | None = None
    pool_size: int | None = None  # None: DEFAULT_POOL_SIZE
    pool_max_overflow: int | None = None  # None: DEFAULT_POOL_MAX_OVERFLOW
    database_user: str = "postgres"  # PostgreSQL user when the URL names none
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default: the process environment); ``overrides``
        that are not None win (the CLI's ``--database``, ``--keys-file``...)."""
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL,
            timezone=env.get(TIMEZONE_ENV) or DEFAULT_COMPANY_TZ,
            keys_file=env.get(KEYS_FILE_ENV) or None,
            signing_key_file=env.get(SIGNING_KEY_ENV) or None,
            pool_size=_int(env, POOL_SIZE_ENV),
            pool_max_overflow=_int(env, POOL_MAX_OVERFLOW_ENV),
            database_user=env.get("USER") or "postgres",
        )
        return settings.with_(**overrides)

    def with_(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def database(self) -> Database:
        """The database of ``database_url`` (raises ``ConfigError`` naming the variable)."""
        return parse_database_url(
            self.database_url, pool_size=self.pool_size or DEFAULT_POOL_SIZE,
            pool_max_overflow=self.pool_max_overflow or DEFAULT_POOL_MAX_OVERFLOW,
            default_user=self.database_user)

    def environ(self) -> dict[str, str]:
        """These settings as environment variables: what the worker processes of ``ledger
        serve --workers N`` are started with (they build their own ``Settings.from_env``)."""
        out = {DATABASE_URL_ENV: self.database_url, TIMEZONE_ENV: self.timezone}
        if self.pool_size:
            out[POOL_SIZE_ENV] = str(self.pool_size)
        if self.pool_max_overflow:
            out[POOL_MAX_OVERFLOW_ENV] = str(self.pool_max_overflow)
        if self.keys_file:
            out[KEYS_FILE_ENV] = self.keys_file
        if self.signing_key_file:
            out[SIGNING_KEY_ENV] = self.signing_key_file
        return out

    def apply(self) -> None:
        """Configure what is process-wide: the company time zone of business dates."""
        try:
            set_company_tz(self.timezone)
        except ValueError as e:
            raise ConfigError(str(e)) from None


def configuration_errors() -> tuple[type[BaseException], ...]:
    """What opening the ledger as configured may raise when the configuration is wrong (a
    bad URL, a database that cannot be opened, an unreadable file): the CLI answers these
    with one line and exit 2, never a traceback."""
    import sqlite3

    from eventsourcing.persistence import PersistenceError

    return (ConfigError, PersistenceError, sqlite3.Error, OSError)


def check_database_url(url: str) -> None:
    """Raise ``ConfigError`` naming the problem when ``url`` is no database URL."""
    parse_database_url(url)


def _int(env: Mapping[str, str], name: str) -> int | None:
    value = env.get(name)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise ConfigError(f"{name} must be at least 1, got {number}")
    return number


class Runtime:
    """The ledger, its live log as an event source, the projections' store and the live
    projector, built from ``settings``; a context manager that closes them."""

    def __init__(self, settings: Settings | None = None, *,
                 clock: Callable[[], datetime] = utcnow, ledger: Ledger | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        if ledger is None:
            self.settings.apply()
        self.ledger = ledger if ledger is not None else Ledger(self.settings.database(),
                                                               clock=clock)
        self.clock = self.ledger.clock
        app = self.ledger.app
        self.source = LogSource(app.recorder, app.mapper)
        self.store = ProjectionStore(app.factory, self.ledger.database.is_postgres)
        self._projector: Projector | None = None
        self._read_state_statement: str | None = None

    @property
    def recorder(self) -> Any:
        """The log's recorder: its hash chain (``verify``, checkpoints, export)."""
        return self.ledger.app.recorder

    @classmethod
    def for_ledger(cls, ledger: Ledger) -> Runtime:
        """The read side of a ledger built elsewhere (tests, the benchmarks)."""
        return cls(ledger=ledger)

    def close(self) -> None:
        self.ledger.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the read side ---------------------------------------------------------------

    def projector(self, projections: Sequence[type[Projection]] | None = None) -> Projector:
        """The live projector: each projection in the generation that answers queries now
        (all projections by default; one projector per runtime for those)."""
        if projections is None and self._projector is not None:
            return self._projector
        projector = live_projector(self.source, self.store, projections, clock=self.clock)
        if projections is None:
            self._projector = projector
        return projector

    def position(self) -> int:
        return self.source.end()

    def query(self, fn: Callable[..., Any], *args: Any, stop: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> Any:
        """Catch up, then read: ``fn(projector, *args)`` over projections that hold the
        log up to its end now, or, with ``stop``, over a sandbox replayed to that position
        (as-of, SPEC 4); the document names its currency (SPEC 1)."""
        with self.reading(stop=stop, progress=progress) as projector:
            return self.ledger.with_currency(fn(projector, *args))

    @contextlib.contextmanager
    def reading(self, *, stop: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> Iterator[Projector]:
        """A projector caught up for reading: the live one up to the log's end, or a
        sandbox replayed to ``stop``."""
        if stop is not None:
            from ledger.replay.sandbox import sandbox

            with sandbox(self.source, stop=stop, clock=self.clock) as then:
                yield then
            return
        projector = self.projector()
        if projector.catch_up(progress=progress) >= STATISTICS_AFTER_EVENTS:
            refresh_statistics(projector)
        yield projector

    def behind(self) -> int:
        """Events the live projections have not applied yet."""
        return self.position() - self.projector().reached()

    def read_state(self) -> ReadState:
        """The log's last position and the position every live projection has reached,
        after switching to the generations a rebuild made current
        (``Projector.follow_generations``): what every API request asks first. On
        PostgreSQL one statement reads the log's end, the generations and the tracking
        positions (a second read only when a rebuild switched generations)."""
        projector = self.projector()
        if not self.store.is_postgres:
            end = self.position()
            projector.follow_generations()
            return ReadState(end, projector.reached())
        projections = list(projector.projections)
        end, generations, positions = self._read_state([p.tracking_name for p in projections])
        if any(generations.get(p.name, p.generation) != p.generation for p in projections):
            projector.follow_generations()
            return ReadState(end, projector.reached())
        return ReadState(end, min((positions.get(p.tracking_name) or 0 for p in projections),
                                  default=0))

    def _read_state(self, names: list[str]) -> tuple[int, dict[str, int], dict[str, int]]:
        statement = self._read_state_statement
        if statement is None:
            from psycopg.sql import SQL, Identifier

            from ledger.projections.engine import GENERATIONS_TABLE

            tracking = self.store.recorder
            schema = Identifier(tracking.datastore.schema)
            composed = SQL(
                "SELECT 'log' AS kind, NULL AS name, (SELECT MAX(notification_id) FROM {0}.{1}) "
                "AS n UNION ALL SELECT 'generation', name, generation FROM {0}.{2} UNION ALL "
                "SELECT 'position', name, (SELECT MAX(notification_id) FROM {0}.{3} "
                "WHERE application_name = name) FROM unnest(%s::text[]) AS name"
            ).format(schema, Identifier(self.recorder.events_table_name),
                     Identifier(GENERATIONS_TABLE), Identifier(tracking.tracking_table_name))
            with tracking.datastore.get_connection() as conn:
                statement = self._read_state_statement = composed.as_string(conn)
        end = 0
        generations: dict[str, int] = {}
        positions: dict[str, int] = {}
        with self.store.recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, (names,), prepare=True)
            for row in cursor.fetchall():
                if row["kind"] == "log":
                    end = int(row["n"] or 0)
                elif row["kind"] == "generation":
                    generations[row["name"]] = int(row["n"])
                else:
                    positions[row["name"]] = int(row["n"] or 0)
        return end, generations, positions


@dataclass(frozen=True)
class ReadState:
    """What a request reads first (``Runtime.read_state``)."""

    log_position: int  # the log's last position
    reached: int  # the position every live projection has reached


def live_projector(source: LogSource, store: ProjectionStore,
                   projections: Sequence[type[Projection]] | None = None, *,
                   clock: Callable[[], datetime] = utcnow) -> Projector:
    from ledger.projections import ALL_PROJECTIONS

    return Projector(source, [cls() for cls in (projections or ALL_PROJECTIONS)], store,
                     follow_generations=True, clock=clock)


def projector_for(ledger: Ledger, projections: Sequence[type[Projection]] | None = None) -> Projector:
    """The live projector of a ledger built elsewhere (tests, benchmarks)."""
    return Runtime.for_ledger(ledger).projector(projections)


def projector_over(ledger: Ledger, projections: Sequence[Projection], **options: Any) -> Projector:
    """A projector of ``projections`` (given generations) over a ledger's log and store."""
    runtime = Runtime.for_ledger(ledger)
    return Projector(runtime.source, projections, runtime.store, clock=ledger.clock, **options)
