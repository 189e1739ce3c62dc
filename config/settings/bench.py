"""The benchmark run (`python -m bench`): production settings on a database of its own.

The same server as `DATABASE_URL` (or the embedded one), but a dedicated database that the bench
drops and recreates every run, so it never touches the developer's data. `BENCH_DB_NAME` names
it; by default `bench_<name of the usual database>` (`bench_mall` on the embedded server).
"""

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL
from .database import broker_url
from .env import env

BENCH_DB_NAME = env("BENCH_DB_NAME") or f"bench_{DATABASES['default']['NAME']}"
DATABASES["default"]["NAME"] = BENCH_DB_NAME
# The broker follows the database when it is PostgreSQL (no Redis): the soak's worker and beat
# (bench/soak) queue in the bench database, never in the developer's.
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or REDIS_URL or broker_url(DATABASES["default"])

# Measured as production runs: no debug (no query log, no debug pages).
DEBUG = False
# The mall's URLs plus /bench/ping, the minimal DRF endpoint every figure is a ratio to.
ROOT_URLCONF = "bench.urls"
