"""``ledger serve`` (SPEC 5.3, 5.4): the HTTP API on uvicorn, over the ledger of
``LEDGER_DATABASE_URL`` and the keys of ``keys_file`` (default ``LEDGER_API_KEYS_FILE``).

One worker (the default): one process serves the requests and runs the background
projector in a thread. ``workers=N`` (N > 1, issue 13): uvicorn's supervisor process starts
N worker processes, each building its own ledger and keys from the environment
(``app_from_env``) with a connection pool sized to the workers, and the supervisor itself
runs the one background projector (a thread beside uvicorn's supervision loop), so the
workers only answer requests and no work is done twice. SIGTERM goes to the supervisor,
which passes it to the workers; each drains its requests in flight, then the projector
stops."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from fastapi import FastAPI

from ledger.api.app import create_app
from ledger.api.auth import ApiKeys, ApiKeysError
from ledger.bootstrap import KEYS_FILE_ENV, Runtime, Settings

# PostgreSQL connections all workers together may hold (pool + overflow); the projector's
# own process holds a few more. A worker's threads beyond its pool wait for a connection:
# on a small machine more connections than cores buy nothing but contention.
CONNECTIONS_PER_SERVER = 16


def pool_for(workers: int) -> tuple[int, int]:
    """(pool size, max overflow) of each of ``workers`` processes."""
    size = max(2, CONNECTIONS_PER_SERVER // (2 * max(1, workers)))
    return size, size


def keys_of(settings: Settings) -> ApiKeys:
    """The API keys of the keys file ``settings`` name."""
    if not settings.keys_file:
        raise ApiKeysError(f"no API keys: set {KEYS_FILE_ENV} to a keys file "
                           "(make one with `ledger keys add USER --file PATH`)")
    return ApiKeys.from_file(settings.keys_file)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000,
          workers: int = 1) -> None:
    """Serve until interrupted. Raises ``ApiKeysError`` (a ``ValueError``) when there are
    no usable keys, before anything listens."""
    import uvicorn

    keys = keys_of(settings)
    if workers <= 1:
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: keys.reload())
        with Runtime(settings) as runtime:
            uvicorn.run(create_app(runtime, keys, background_projector=True), host=host,
                        port=port, log_level="info")
        return

    from ledger.api.background import BackgroundProjector

    # what the workers build their settings from (spawned processes inherit the
    # environment): these settings, the keys file as an absolute path, and a pool sized
    # to the workers unless one was configured
    size, overflow = pool_for(workers)
    settings = settings.with_(
        keys_file=str(Path(settings.keys_file).resolve()) if settings.keys_file else None,
        pool_size=settings.pool_size or size,
        pool_max_overflow=settings.pool_max_overflow or overflow)
    os.environ.update(settings.environ())
    # SIGHUP: uvicorn's supervisor replaces the workers, which read the keys file anew
    with Runtime(settings) as runtime:
        projector = BackgroundProjector(runtime.projector())
        projector.start()
        try:
            _run_workers(uvicorn.Config("ledger.api.server:app_from_env", factory=True,
                                        workers=workers, host=host, port=port,
                                        log_level="info"))
        finally:
            projector.stop()


def _run_workers(config: object) -> None:
    """``uvicorn.run`` for several workers, but over a listening socket that says it is TCP:
    uvicorn binds ``socket.socket(family)`` (protocol 0), so the connections it accepts are
    not recognised as TCP by asyncio, which then leaves Nagle's algorithm on, and each
    answer written in two parts waits out the client's delayed ACK (about 40 ms a request
    at one client). With ``IPPROTO_TCP`` asyncio sets ``TCP_NODELAY`` as it does for one
    worker."""
    import socket

    from uvicorn.supervisors import Multiprocess

    bound = config.bind_socket()  # type: ignore[attr-defined]
    if bound.family in (socket.AF_INET, socket.AF_INET6):
        bound = socket.socket(bound.family, socket.SOCK_STREAM, socket.IPPROTO_TCP,
                              fileno=bound.detach())
    Multiprocess(config, sockets=[bound]).run()  # type: ignore[arg-type]


def app_from_env() -> FastAPI:
    """One worker of ``ledger serve --workers N`` (a uvicorn factory): the ledger of
    ``LEDGER_DATABASE_URL``, the keys of ``LEDGER_API_KEYS_FILE``; reads answer from the
    projected tables, which another process keeps caught up."""
    settings = Settings.from_env()
    return create_app(Runtime(settings), keys_of(settings), projector_elsewhere=True,
                      close_ledger=True)
