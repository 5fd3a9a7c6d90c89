"""gunicorn's settings, read from the working directory by every web command (Dockerfile,
docker-compose.yml, scripts/run-local, bench/load.py); their command-line flags win.

Threaded workers (gthread): a sync worker is killed by the master when one request takes longer
than `timeout` (30 s), which cut CPE IT's national CSV export off mid-stream (a truncated file that
can look complete) and turned a slow dashboard under load into a 500 (docs/benchmarks.md, load).
A gthread worker's main loop keeps telling the master it is alive while its threads serve, so a
long download runs to its end; `timeout` still restarts a worker that hangs. Each thread has its
own database connection: workers x threads connections per web container.

Two threads a worker, not more: a page is mostly Python (the ORM, the templates), and the threads
of one worker share its interpreter lock, so four of them made each request wait on the others'
Python. Under the load benchmark's 50 people on 2 CPUs (docs/benchmarks.md, "run 9"), 4 threads
gave a 95th percentile of 220 to 240 ms over all pages, 2 threads 150 ms, with the same
throughput; one thread would leave a worker idle behind each long download.
Idle connections are kept alive for 75 s, longer than the proxy in front keeps its own (nginx's
upstream keepalive_timeout and AWS's load balancers: 60 s), so that the proxy always closes an
idle connection first. With gunicorn's default of 2 s, the worker closed idle connections while
the other side was sending its next request on them: a request lost (status 0, never reaching
Django) once in the load benchmark's 3,600 requests, whose people wait 1 to 3 s between pages.
"""

worker_class = "gthread"
threads = 2
timeout = 30
keepalive = 75
graceful_timeout = 30
