"""One catch-up of every projection from position 0, in its own process so that its peak
memory is its own (its ``VmHWM``, read by ``bench/run.py``). Prints one JSON line.

    python bench/catch_up_child.py URL [--batch 1000] [--profile FILE]
"""

from __future__ import annotations

import cProfile
import json
import sys
import time

from benchlib import peak_rss_mib
from ledger.application import Ledger
from ledger.config import parse_database_url
from ledger.bootstrap import projector_for


def main() -> None:
    url = sys.argv[1]
    batch = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 1000
    profile = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
    with Ledger(parse_database_url(url)) as ledger:
        events = ledger.max_position()
        projector = projector_for(ledger)
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        if profile:
            prof = cProfile.Profile()
            prof.enable()
        projector.catch_up(batch_size=batch)
        if profile:
            prof.disable()
            prof.dump_stats(profile)
        seconds = time.perf_counter() - started
    print(json.dumps({"events": events, "seconds": seconds, "rate": events / seconds,
                      "rss_before_mib": rss_before, "peak_rss_mib": peak_rss_mib()}), flush=True)


if __name__ == "__main__":
    main()
