"""gunicorn's settings, read from the working directory by every web command (Dockerfile,
docker-compose.yml, scripts/run-local, bench/load.py); their command-line flags win.

Threaded workers (gthread): a sync worker is killed by the master when one request takes longer
than `timeout` (30 s), which cut CPE IT's national CSV export off mid-stream (a truncated file that
can look complete) and turned a slow dashboard under load into a 500 (docs/benchmarks.md, load).
A gthread worker's main loop keeps telling the master it is alive while its threads serve, so a
long download runs to its end; `timeout` still restarts a worker that hangs. Each thread has its
own database connection: workers x threads connections per web container.
"""

worker_class = "gthread"
threads = 4
timeout = 30
graceful_timeout = 30
