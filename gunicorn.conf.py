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

A worker takes a connection only when one of its threads is free (worker_connections = threads).
gunicorn's default, 1,000, has each worker accept whatever arrives and queue it behind its own
threads, so a request can wait behind a slow dashboard in one worker while the other worker is
idle. With the limit, the waiting requests stay in the listening socket's queue, which both workers
read, and the first free thread takes the next one. Four load runs, alternately with and without
the limit on fresh copies of the data set (docs/benchmarks.md, 3 December, afternoon), gave the
bare view's 95th percentile 110 and 65 ms with it, 180 and 120 ms without, and over all pages
200 and 160 ms against 220 and 210 ms. The medians and the CPU a request were the same.

No keep-alive (keepalive = 0): each response closes its connection ("Connection: close"). With
gunicorn's default of 2 s, a worker closes an idle connection just as the other side may send its
next request on it; that request is lost (the load benchmark saw one POST in 3,600 fail with no
response, never reaching Django). A proxy that keeps its upstream connections open (nginx with
`keepalive`, a cloud load balancer) then answers 502 for it. Keeping them longer than the proxy
(75 s, tried in the load benchmark) pins each connection to one worker, and one busy worker's
connections queue while the other is idle: the bare view's 95th percentile went from 200 to 490 ms
(docs/benchmarks.md, 3 December). nginx's default upstream, HTTP/1.0 with a connection a request,
is what this asks of any proxy.
"""

worker_class = "gthread"
threads = 2
worker_connections = threads
timeout = 30
keepalive = 0
graceful_timeout = 30
