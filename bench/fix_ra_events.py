"""Bring a data set built before the RA requests carried their data up to date (not a test).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sr_bench_1m .venv/bin/python bench/fix_ra_events.py

bench/dataset.py used to write every event with empty data, so the figures' RA tables over it were
empty: no TRANSITION event named contact_ra or its RA, no call with the RA. It now writes what the
site writes (dataset.RA_ASKED, RA_REQUEST_DATA, CALL_DATA). This script makes an existing data set
the same, set-based, without rebuilding it (about 7 minutes at 1,000,000 issues): each issue's
first TRANSITION event becomes its contact_ra request when the issue reached the RA's step, and each
call says whether it was with the RA. Running it twice changes nothing more; then ANALYZE.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import CALL_DATA, DEFAULT_URL, RA_ASKED, RA_REQUEST_DATA, connect

REQUESTS_SQL = f"""
UPDATE issues_issueevent e SET data = {RA_REQUEST_DATA}, to_state = 'ra_contacted'
FROM (
  SELECT DISTINCT ON (issue_id) id FROM issues_issueevent WHERE kind = 'transition' ORDER BY issue_id, created_at, id
) first
JOIN issues_issueevent fe ON fe.id = first.id
JOIN issues_issue i ON i.id = fe.issue_id
JOIN directory_pharmacy p ON p.id = i.pharmacy_id
JOIN directory_registrationauthority ra ON ra.id = p.ra_id
WHERE e.id = first.id AND {RA_ASKED} AND e.data = '{{}}'::jsonb
"""

CALLS_SQL = f"""
UPDATE issues_issueevent e SET data = {CALL_DATA.replace("i.id", "e.issue_id")}
WHERE e.kind = 'phone_call' AND e.data = '{{}}'::jsonb
"""


def main() -> None:
    conn = connect(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    with conn.cursor() as cursor:
        cursor.execute("SET work_mem = '256MB'")
        for label, sql in (("requests", REQUESTS_SQL), ("calls", CALLS_SQL)):
            started = time.perf_counter()
            cursor.execute(sql)
            print(f"  {label}: {cursor.rowcount:,} events in {time.perf_counter() - started:.1f} s", flush=True)
        conn.commit()
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("ANALYZE issues_issueevent")
    conn.close()


if __name__ == "__main__":
    main()
