"""WeChat Pay under ordinary configuration variations, against the sandbox over HTTP.

A base URL set without its trailing slash, and a merchant certificate that is configured but
missing: prepay never opens the certificate (only refunds present it), a refund says which
variable names the missing file, and the settings check refuses it at startup.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from config.checks import refuse_unsafe_settings
from config.settings.env import base_url
from tests.wechat.test_pay_v2 import prepay_args
from tests.wechat.test_refund_gateway import refund
from wechat.errors import WechatApiError
from wechat.pay_v2 import get_gateway


def test_a_prepay_works_with_a_pay_base_url_set_without_its_slash(sandbox_server, settings, control,
                                                                  notify_target, monkeypatch):
    monkeypatch.setenv("WECHAT_PAY_API_BASE", sandbox_server.pay_base_url.rstrip("/"))
    settings.WECHAT_PAY_API_BASE = base_url("WECHAT_PAY_API_BASE", "unused")

    result = get_gateway().prepay(**prepay_args(notify_target.url))

    assert control.trade("M20261123000001")["prepay_id"] == result.prepay_id


def test_a_prepay_never_opens_the_merchant_certificate(sandbox_server, settings, control, notify_target, tmp_path):
    settings.WECHAT_PAY_MCH_CERT = str(tmp_path / "missing" / "apiclient_cert.pem")
    settings.WECHAT_PAY_MCH_KEY = str(tmp_path / "missing" / "apiclient_key.pem")

    result = get_gateway().prepay(**prepay_args(notify_target.url))

    assert control.trade("M20261123000001")["prepay_id"] == result.prepay_id


def test_a_refund_with_a_missing_certificate_file_names_the_variable(sandbox_server, settings, control, tmp_path):
    missing = tmp_path / "missing" / "apiclient_cert.pem"
    settings.WECHAT_PAY_MCH_CERT = str(missing)

    with pytest.raises(WechatApiError) as no_cert:
        refund(get_gateway(), "http://127.0.0.1:9/")

    assert no_cert.value.errcode == "NO_CERT"
    assert no_cert.value.errmsg == f"WECHAT_PAY_MCH_CERT names {missing}, which is not a readable file"
    assert control.refunds() == []


@pytest.mark.parametrize("variable", ["WECHAT_PAY_MCH_CERT", "WECHAT_PAY_MCH_KEY", "WECHAT_PAY_CA_BUNDLE"])
def test_a_configured_certificate_file_that_is_missing_stops_a_local_start(settings, tmp_path, variable):
    assert settings.MALL_ENV == "local"
    setattr(settings, variable, str(tmp_path / "missing.pem"))

    with pytest.raises(SystemCheckError) as refused:
        call_command("check", verbosity=0)  # runserver, migrate and every command run it

    assert f"(mall.E006) {variable} names" in str(refused.value)
    with pytest.raises(ImproperlyConfigured, match=f"mall.E006.*{variable}"):
        refuse_unsafe_settings()


def test_the_sandbox_certificates_not_yet_written_do_not_stop_a_local_start(settings, tmp_path):
    settings.WECHAT_SANDBOX_CERT_DIR = str(tmp_path / "wechat-sandbox")
    settings.WECHAT_PAY_MCH_CERT = str(tmp_path / "wechat-sandbox" / "apiclient_cert.pem")
    settings.WECHAT_PAY_MCH_KEY = str(tmp_path / "wechat-sandbox" / "apiclient_key.pem")
    settings.WECHAT_PAY_CA_BUNDLE = str(tmp_path / "wechat-sandbox" / "ca.pem")

    call_command("check", verbosity=0)
    refuse_unsafe_settings()
