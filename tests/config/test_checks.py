"""The settings checks: each misconfiguration is an error naming its variable; a good one passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import signals
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from config.checks import refuse_unsafe_settings, settings_errors
from config.settings.env import local_secret
from tests.keys import write_public_key

SANDBOX_PAY_KEY = "sandboxpaykey0000000000000000001"


@pytest.fixture
def production(settings, tmp_path: Path):
    """A correct production configuration; each test breaks one thing."""
    for name in ("apiclient_cert.pem", "apiclient_key.pem"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    settings.MALL_ENV = "production"
    settings.SECRET_KEY = "p4Qv-production-secret-kept-out-of-the-repository-x9Zk"
    settings.DEBUG = False
    settings.WECHAT_APP_ID = "wx8f3c2a1b0d9e7f65"
    settings.WECHAT_APP_SECRET = "3b6f0e1d2c4a5968778695a4b3c2d1e0"
    settings.WECHAT_MCH_ID = "1612345678"
    settings.WECHAT_PAY_API_KEY = "Xq7LmP2vR9tY4wZ8bN3cK6dF1gH5jS0a"
    settings.WECHAT_MESSAGE_TOKEN = "k2Jd8sPq0Lm4"
    settings.WECHAT_API_BASE = "https://api.weixin.qq.com/"
    settings.WECHAT_PAY_API_BASE = "https://api.mch.weixin.qq.com/"
    settings.WECHAT_PAY_SECURE_API_BASE = "https://api.mch.weixin.qq.com/"
    settings.WECHAT_PAY_MCH_CERT = str(tmp_path / "apiclient_cert.pem")
    settings.WECHAT_PAY_MCH_KEY = str(tmp_path / "apiclient_key.pem")
    settings.WECHAT_PAY_CA_BUNDLE = ""
    settings.WECHAT_PAY_APIV3_KEY = "Hk3mQ8vT2nW6yB1cF5jL9pR4sX7zA0dE"
    settings.WECHAT_PAY_PUBLIC_KEY = str(write_public_key(tmp_path / "pub_key.pem"))
    settings.WECHAT_PAY_PUBLIC_KEY_ID = "PUB_KEY_ID_0116123456782025061800000000"
    settings.ALLOWED_HOSTS = ["mall.example.com", "localhost"]
    settings.SITE_URL = "https://mall.example.com"
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    return settings


def test_a_correct_production_configuration_passes(production):
    call_command("check", "--deploy", verbosity=0)

    assert settings_errors(production=True) == []
    refuse_unsafe_settings()


MISCONFIGURATIONS = [
    ("mall.E001", "DJANGO_SECRET_KEY", {"SECRET_KEY": ""}),
    ("mall.E002", "DJANGO_DEBUG", {"DEBUG": True}),
    ("mall.E003", "WECHAT_APP_ID", {"WECHAT_APP_ID": "wxsandbox0000000001"}),
    ("mall.E003", "WECHAT_APP_SECRET", {"WECHAT_APP_SECRET": "sandbox-app-secret"}),
    ("mall.E003", "WECHAT_MCH_ID", {"WECHAT_MCH_ID": "1900000001"}),
    ("mall.E003", "WECHAT_MESSAGE_TOKEN", {"WECHAT_MESSAGE_TOKEN": "sandboxmessagetoken0001"}),
    ("mall.E005", "WECHAT_API_BASE", {"WECHAT_API_BASE": "http://127.0.0.1:8900/"}),
    ("mall.E005", "WECHAT_PAY_API_BASE", {"WECHAT_PAY_API_BASE": "http://localhost:8900/pay/"}),
    ("mall.E005", "WECHAT_PAY_SECURE_API_BASE", {"WECHAT_PAY_SECURE_API_BASE": "https://127.0.0.1:8901/pay/"}),
    ("mall.E006", "WECHAT_PAY_MCH_CERT", {"WECHAT_PAY_MCH_CERT": "/etc/mall/missing/apiclient_cert.pem"}),
    ("mall.E006", "WECHAT_PAY_MCH_KEY", {"WECHAT_PAY_MCH_KEY": "/etc/mall/missing/apiclient_key.pem"}),
    ("mall.E006", "WECHAT_PAY_CA_BUNDLE", {"WECHAT_PAY_CA_BUNDLE": "/etc/mall/missing/ca.pem"}),
    ("mall.E007", "WECHAT_PAY_MCH_CERT", {"WECHAT_PAY_MCH_CERT": ""}),
    ("mall.E007", "WECHAT_PAY_MCH_KEY", {"WECHAT_PAY_MCH_KEY": ""}),
    ("mall.E008", "DJANGO_ALLOWED_HOSTS", {"ALLOWED_HOSTS": ["localhost", "127.0.0.1", "[::1]"]}),
    ("mall.E009", "SITE_URL", {"SITE_URL": "http://127.0.0.1:8000"}),
    ("mall.E010", "SESSION_COOKIE_SECURE", {"SESSION_COOKIE_SECURE": False}),
    ("mall.E010", "CSRF_COOKIE_SECURE", {"CSRF_COOKIE_SECURE": False}),
    # Payouts (Pay v3): not configured, the sandbox's values, or the wrong form.
    ("mall.E011", "WECHAT_PAY_APIV3_KEY", {"WECHAT_PAY_APIV3_KEY": ""}),
    ("mall.E011", "WECHAT_PAY_PUBLIC_KEY", {"WECHAT_PAY_PUBLIC_KEY": ""}),
    ("mall.E011", "WECHAT_PAY_PUBLIC_KEY_ID", {"WECHAT_PAY_PUBLIC_KEY_ID": ""}),
    ("mall.E003", "WECHAT_PAY_PUBLIC_KEY_ID", {"WECHAT_PAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0119000000012025010100000001"}),
    ("mall.E006", "WECHAT_PAY_PUBLIC_KEY", {"WECHAT_PAY_PUBLIC_KEY": "/etc/mall/missing/pub_key.pem"}),
    ("mall.E012", "WECHAT_PAY_APIV3_KEY", {"WECHAT_PAY_APIV3_KEY": "too-short"}),
    ("mall.E012", "WECHAT_PAY_PUBLIC_KEY_ID", {"WECHAT_PAY_PUBLIC_KEY_ID": "69B46F3CF558D60F47E6D4BAF8189C202275B397"}),
]


@pytest.mark.parametrize(("check_id", "variable", "overrides"), MISCONFIGURATIONS,
                         ids=[f"{check_id}-{variable}" for check_id, variable, _ in MISCONFIGURATIONS])
def test_each_misconfiguration_fails_check_deploy_naming_its_variable(production, check_id, variable, overrides):
    for name, value in overrides.items():
        setattr(production, name, value)

    with pytest.raises(SystemCheckError) as refused:
        call_command("check", "--deploy", verbosity=0)

    assert f"({check_id}) {variable}" in str(refused.value)
    assert [(error.id, variable in error.msg) for error in settings_errors(production=True)] == [(check_id, True)]
    with pytest.raises(ImproperlyConfigured, match=variable):
        refuse_unsafe_settings()


def test_a_file_that_is_no_public_key_is_refused_everywhere(settings, tmp_path):
    (tmp_path / "pub_key.pem").write_text("-----BEGIN CERTIFICATE-----\nnot a key\n")
    settings.WECHAT_PAY_PUBLIC_KEY = str(tmp_path / "pub_key.pem")

    with pytest.raises(SystemCheckError) as refused:
        call_command("check", verbosity=0)

    assert f"(mall.E012) WECHAT_PAY_PUBLIC_KEY names {tmp_path / 'pub_key.pem'}, which holds no RSA public key" \
        in str(refused.value)


def test_the_sandbox_apiv3_key_is_refused_in_production(production):
    production.WECHAT_PAY_APIV3_KEY = "sandboxapiv3key00000000000000001"

    errors = settings_errors(production=True)

    assert [error.id for error in errors] == ["mall.E004", "mall.E003"]
    assert all("WECHAT_PAY_APIV3_KEY" in error.msg for error in errors)


def test_the_generated_local_secret_is_refused_for_production(production):
    production.SECRET_KEY = local_secret("DJANGO_SECRET_KEY")

    assert [error.id for error in settings_errors(production=True)] == ["mall.E001"]


def test_the_sandbox_pay_key_is_refused_in_production(production):
    production.WECHAT_PAY_API_KEY = SANDBOX_PAY_KEY

    errors = settings_errors(production=True)

    assert [error.id for error in errors] == ["mall.E004", "mall.E004", "mall.E003"]
    assert all("WECHAT_PAY_API_KEY" in error.msg for error in errors)


def test_local_runs_on_the_sandbox_defaults_pass(settings):
    assert settings.MALL_ENV == "local"
    assert settings.WECHAT_PAY_API_KEY == SANDBOX_PAY_KEY

    call_command("check", verbosity=0)

    refuse_unsafe_settings()


@pytest.mark.parametrize("variable", ["WECHAT_PAY_API_BASE", "WECHAT_PAY_SECURE_API_BASE"])
def test_the_sandbox_pay_key_with_wechat_pay_is_refused_outside_production(settings, variable):
    setattr(settings, variable, "https://api.mch.weixin.qq.com/")

    with pytest.raises(SystemCheckError) as refused:
        call_command("check", verbosity=0)  # every manage.py command runs it, not only --deploy

    assert f"(mall.E004) WECHAT_PAY_API_KEY is the sandbox's published key, but {variable}" in str(refused.value)
    with pytest.raises(ImproperlyConfigured, match=f"mall.E004.*{variable}"):
        refuse_unsafe_settings()


def test_a_silenced_check_does_not_stop_the_start(production):
    production.DEBUG = True
    production.SILENCED_SYSTEM_CHECKS = ["mall.E002"]

    refuse_unsafe_settings()


def test_celery_beat_refuses_to_start_on_unsafe_settings(production):
    production.DEBUG = True

    # Celery swallows a handler's exception: only a SystemExit stops the start.
    with pytest.raises(SystemExit, match="DJANGO_DEBUG"):
        signals.beat_init.send(sender=None)
