"""Ordinary variations of the configuration give the same working app.

Base URLs with or without their trailing slash; `DATABASE_URL` as `postgres://` or
`postgresql://`, with query parameters, with a Unix socket as its host — for Django and for the
Celery broker on PostgreSQL alike. The settings are read by a fresh interpreter with only the
variables each case sets, as a process of the app would read them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from config.settings.database import broker_url, database_settings
from config.settings.env import BASE_DIR
from core import embedded_pg

OWN_PREFIXES = ("DJANGO_", "WECHAT_", "MALL_", "SITE_URL", "CELERY_", "DATABASE_", "REDIS_URL", "LOGISTICS_")

READ_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
names = ["WECHAT_API_BASE", "WECHAT_PAY_API_BASE", "WECHAT_PAY_SECURE_API_BASE", "LOGISTICS_API_BASE",
         "SITE_URL", "CELERY_BROKER_URL"]
database = {key: value for key, value in settings.DATABASES["default"].items() if key != "TEST"}
print(json.dumps({"DATABASE": database, **{name: getattr(settings, name) for name in names}}))
"""


def app_settings(tmp_path: Path, **variables: str) -> dict[str, Any]:
    """The settings a process of the app reads with `variables` set (and no others of ours)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(OWN_PREFIXES)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", MALL_VAR_DIR=str(tmp_path / "var"), **variables)
    result = subprocess.run([sys.executable, "-c", READ_SETTINGS], cwd=BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def psycopg_arguments(broker: str) -> dict[str, Any]:
    """What SQLAlchemy's psycopg dialect hands psycopg.connect for a kombu `sqla+` broker URL."""
    assert broker.startswith("sqla+postgresql+psycopg://")
    engine = create_engine(broker.removeprefix("sqla+"))
    _, arguments = engine.dialect.create_connect_args(engine.url)
    engine.dispose()
    return {key: value for key, value in arguments.items() if key != "context"}


@pytest.mark.parametrize("slash", ["", "/"], ids=["without-slash", "with-slash"])
def test_base_urls_end_in_one_slash_and_the_site_url_in_none(tmp_path, slash):
    read = app_settings(
        tmp_path,
        WECHAT_API_BASE=f"https://api.weixin.qq.com{slash}",
        WECHAT_PAY_API_BASE=f"https://api.mch.weixin.qq.com{slash}",
        WECHAT_PAY_SECURE_API_BASE=f"https://api.mch.weixin.qq.com{slash}",
        WECHAT_PAY_API_KEY="Xq7LmP2vR9tY4wZ8bN3cK6dF1gH5jS0a",
        LOGISTICS_API_BASE=f"https://poll.kuaidi100.com{slash}",
        SITE_URL=f"https://mall.example.com{slash}",
    )

    assert read["WECHAT_API_BASE"] == "https://api.weixin.qq.com/"
    assert read["WECHAT_PAY_API_BASE"] == "https://api.mch.weixin.qq.com/"
    assert read["WECHAT_PAY_SECURE_API_BASE"] == "https://api.mch.weixin.qq.com/"
    assert read["LOGISTICS_API_BASE"] == "https://poll.kuaidi100.com/"
    assert read["SITE_URL"] == "https://mall.example.com"


# (DATABASE_URL, Django's connection settings, what the broker hands psycopg.connect)
DATABASE_URLS = [
    ("postgres://mall:s3cret@db.example.com:5433/mall",
     {"HOST": "db.example.com", "PORT": 5433, "NAME": "mall", "USER": "mall", "PASSWORD": "s3cret", "OPTIONS": {}},
     {"host": "db.example.com", "port": 5433, "dbname": "mall", "user": "mall", "password": "s3cret"}),
    ("postgresql://mall:p%40ss%3Aw%2Frd@db.example.com/mall?sslmode=require",
     {"HOST": "db.example.com", "NAME": "mall", "PASSWORD": "p@ss:w/rd", "OPTIONS": {"sslmode": "require"}},
     {"host": "db.example.com", "dbname": "mall", "user": "mall", "password": "p@ss:w/rd", "sslmode": "require"}),
    ("postgres://mall@db.example.com/mall?sslmode=verify-full&sslrootcert=/etc/mall/ca.pem",
     {"OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/etc/mall/ca.pem"}},
     {"sslmode": "verify-full", "sslrootcert": "/etc/mall/ca.pem"}),
    ("postgresql://mall@/mall?host=/var/run/postgresql",
     {"HOST": "/var/run/postgresql", "NAME": "mall", "USER": "mall", "OPTIONS": {}},
     {"host": "/var/run/postgresql", "dbname": "mall", "user": "mall"}),
    ("postgresql://mall@%2Fvar%2Frun%2Fpostgresql/mall",
     {"HOST": "/var/run/postgresql", "NAME": "mall", "USER": "mall"},
     {"host": "/var/run/postgresql", "dbname": "mall", "user": "mall"}),
    ("postgresql:///mall",
     {"HOST": "", "NAME": "mall", "USER": "", "OPTIONS": {}},
     {"dbname": "mall"}),
]


@pytest.mark.parametrize(("url", "django", "psycopg"), DATABASE_URLS, ids=[case[0] for case in DATABASE_URLS])
def test_each_form_of_database_url_reaches_django_and_the_broker(url, django, psycopg):
    database = database_settings(url, conn_max_age=60)
    broker = broker_url(database)

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert {key: database[key] for key in django} == django
    arguments = psycopg_arguments(broker)
    assert {key: arguments.get(key) for key in psycopg} == psycopg
    assert set(arguments) <= {"host", "port", "dbname", "user", "password", *psycopg}


def test_the_app_reads_a_postgres_url_with_a_query_for_django_and_the_broker(tmp_path):
    read = app_settings(tmp_path, DATABASE_URL="postgres://mall:s3cret@db.example.com:5433/shop?sslmode=require")

    database = read["DATABASE"]
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.example.com", 5433, "shop")
    assert database["OPTIONS"] == {"sslmode": "require"}
    assert database["CONN_HEALTH_CHECKS"] is True
    assert psycopg_arguments(read["CELERY_BROKER_URL"]) == {
        "host": "db.example.com", "port": 5433, "dbname": "shop", "user": "mall", "password": "s3cret",
        "sslmode": "require"}


def test_the_app_connects_with_a_postgres_url_and_sslmode(tmp_path):
    # The embedded server speaks TCP only, without TLS: `postgres://` and `?sslmode=disable` are
    # what a real variation can exercise here; the socket forms are checked as parsed above.
    url = f"postgres://{embedded_pg.USER}@{embedded_pg.HOST}:{embedded_pg.PORT}/postgres?sslmode=disable"
    env = {key: value for key, value in os.environ.items() if not key.startswith(OWN_PREFIXES)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", MALL_VAR_DIR=str(tmp_path / "var"), DATABASE_URL=url)
    script = """
import django
django.setup()
from django.conf import settings
from django.db import connection
from sqlalchemy import create_engine, text
with connection.cursor() as cursor:
    cursor.execute("SELECT current_database()")
    print("django", cursor.fetchone()[0])
engine = create_engine(settings.CELERY_BROKER_URL.removeprefix("sqla+"))
with engine.connect() as broker:
    print("broker", broker.execute(text("SELECT current_database()")).scalar())
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django", "postgres", "broker", "postgres"]


def test_make_run_closes_database_connections_after_each_request(tmp_path):
    read = app_settings(tmp_path, DATABASE_CONN_MAX_AGE="0")

    assert read["DATABASE"]["CONN_MAX_AGE"] == 0
    assert app_settings(tmp_path)["DATABASE"]["CONN_MAX_AGE"] == 60
