"""Production processes refuse to start on unsafe settings: web (wsgi/asgi) and Celery worker.

Each test starts a real interpreter with only the environment it sets (no database is needed:
the checks read settings only) and expects it to exit at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings.env import BASE_DIR
from tests.keys import write_public_key

# Variables the tests decide; the rest of the environment (EMBEDDED_PG_PORT, PATH…) is kept.
OWN_PREFIXES = ("DJANGO_", "WECHAT_", "MALL_", "SITE_URL", "CELERY_")


def run(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(OWN_PREFIXES)}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", MALL_VAR_DIR=str(tmp_path / "var"), **variables)
    return subprocess.run(args, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False)


def production_env(tmp_path: Path) -> dict[str, str]:
    for name in ("apiclient_cert.pem", "apiclient_key.pem"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    public_key = write_public_key(tmp_path / "pub_key.pem")
    return {
        "MALL_ENV": "production",
        "DJANGO_SECRET_KEY": "p4Qv-production-secret-kept-out-of-the-repository-x9Zk",
        "DJANGO_ALLOWED_HOSTS": "mall.example.com",
        "SITE_URL": "https://mall.example.com",
        "WECHAT_APP_ID": "wx8f3c2a1b0d9e7f65",
        "WECHAT_APP_SECRET": "3b6f0e1d2c4a5968778695a4b3c2d1e0",
        "WECHAT_MCH_ID": "1612345678",
        "WECHAT_PAY_API_KEY": "Xq7LmP2vR9tY4wZ8bN3cK6dF1gH5jS0a",
        "WECHAT_MESSAGE_TOKEN": "k2Jd8sPq0Lm4",
        "WECHAT_API_BASE": "https://api.weixin.qq.com/",
        "WECHAT_PAY_API_BASE": "https://api.mch.weixin.qq.com/",
        "WECHAT_PAY_SECURE_API_BASE": "https://api.mch.weixin.qq.com/",
        "WECHAT_PAY_MCH_CERT": str(tmp_path / "apiclient_cert.pem"),
        "WECHAT_PAY_MCH_KEY": str(tmp_path / "apiclient_key.pem"),
        "WECHAT_PAY_APIV3_KEY": "Hk3mQ8vT2nW6yB1cF5jL9pR4sX7zA0dE",
        "WECHAT_PAY_PUBLIC_KEY": str(public_key),
        "WECHAT_PAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0116123456782025061800000000",
    }


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_web_refuses_to_start_in_production_on_demo_defaults(tmp_path, module):
    result = run([sys.executable, "-c", f"import {module}"], tmp_path, MALL_ENV="production")

    assert result.returncode != 0
    assert "Refusing to start (MALL_ENV=production)" in result.stderr
    for expected in ("(mall.E001) DJANGO_SECRET_KEY", "(mall.E003) WECHAT_PAY_API_KEY",
                     "(mall.E008) DJANGO_ALLOWED_HOSTS", "(mall.E009) SITE_URL"):
        assert expected in result.stderr
    assert not (tmp_path / "var" / "django_secret_key.secret").exists()


def test_web_starts_in_production_when_configured(tmp_path):
    result = run([sys.executable, "-c", "import config.wsgi"], tmp_path, **production_env(tmp_path))

    assert result.returncode == 0, result.stderr


SECURITY_SETTINGS = ("import django; django.setup(); from django.conf import settings as s; "
                     "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER, "
                     "s.SECURE_HSTS_SECONDS)")


def test_production_cookies_are_secure_and_https_is_seen_behind_the_proxy(tmp_path):
    result = run([sys.executable, "-c", SECURITY_SETTINGS], tmp_path, **production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "('HTTP_X_FORWARDED_PROTO',", "'https')", "31536000"]


def test_local_cookies_work_over_plain_http(tmp_path):
    result = run([sys.executable, "-c", SECURITY_SETTINGS], tmp_path, MALL_ENV="local")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "None", "0"]


def test_worker_refuses_to_start_in_production_on_a_bad_setting(tmp_path):
    env = {**production_env(tmp_path), "DJANGO_DEBUG": "true"}

    result = run([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING"],
                 tmp_path, **env)

    assert result.returncode == 1
    assert "(mall.E002) DJANGO_DEBUG is on" in result.stderr


def test_web_refuses_the_sandbox_pay_key_with_wechat_pay_outside_production(tmp_path):
    result = run([sys.executable, "-c", "import config.wsgi"], tmp_path,
                 WECHAT_PAY_API_BASE="https://api.mch.weixin.qq.com/")

    assert result.returncode != 0
    assert "Refusing to start (MALL_ENV=local)" in result.stderr
    assert "(mall.E004) WECHAT_PAY_API_KEY is the sandbox's published key, but WECHAT_PAY_API_BASE" in result.stderr


def test_a_mistyped_mall_env_is_refused(tmp_path):
    result = run([sys.executable, "-c", "import config.wsgi"], tmp_path, MALL_ENV="prod")

    assert result.returncode != 0
    assert "MALL_ENV must be 'local' or 'production', not 'prod'" in result.stderr
