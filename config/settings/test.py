"""The test run: the same settings, a broker database of its own, fast password hashing."""

import os

from .base import *  # noqa: F403
from .base import DATABASES, EMBEDDED_DATABASE
from .database import broker_url, database_settings
from .env import VAR_DIR, env

# Parallel runs on one server (several developers' checkouts) each name their own database;
# pytest-django adds each xdist worker's id to it ("test_mall_gw0"), and the broker database
# gets the same suffix here so one worker's Celery tests never consume another's tasks.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DB_NAME", "test_mall")}
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_BROKER_DB_NAME = env("TEST_BROKER_DB_NAME", "test_broker") + (f"_{_XDIST_WORKER}" if _XDIST_WORKER else "")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Keep test tasks away from a developer's running worker: the broker is a database of its own on
# the same server (tests/conftest.py creates it).
if EMBEDDED_DATABASE:
    from core.embedded_pg import database_url

    CELERY_BROKER_URL = broker_url(database_settings(database_url(TEST_BROKER_DB_NAME),
                                                     conn_max_age=0))
else:
    CELERY_BROKER_URL = broker_url({**DATABASES["default"], "NAME": TEST_BROKER_DB_NAME})
DATABASES["default"]["CONN_MAX_AGE"] = 0

# Tests see every write at once; the cache itself is tested with the setting turned on.
CATALOG_CACHE_SECONDS = 0

# Member-owned files of tests that do not point it at their own tmp_path stay out of var/private.
PRIVATE_MEDIA_ROOT = VAR_DIR / "test-private"
