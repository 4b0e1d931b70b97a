"""gunicorn settings for Tifa over PostgreSQL: ``gunicorn -c deploy/gunicorn.conf.py 'webapp:create_app()'``.

create_app() opens no database connection and starts no scheduler, so ``preload_app`` is safe:
each worker opens its own pool after the fork. Run ``tifa scheduler`` as the one job runner
(the app processes never start one: only `tifa serve` does).
"""

import multiprocessing
import os

bind = os.environ.get("TIFA_BIND", "127.0.0.1:8000")
# Review requests are short and mostly wait on the database: a few workers with threads each.
workers = int(os.environ.get("TIFA_WORKERS", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("TIFA_THREADS", 4))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
preload_app = True
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
