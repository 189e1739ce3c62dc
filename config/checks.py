"""System checks on the settings: production must not start on the demo defaults.

Every refusal is an Error with a stable id and a message that names the environment variable to
set (README, "Configuration"):

- deploy checks, run by `manage.py check --deploy` and before any web or worker process starts
  when `MALL_ENV=production`: the secret key (mall.E001), debug (E002), the sandbox's credentials
  (E003), WeChat base URLs left at the sandbox (E005), certificate files not configured (E007),
  local-only allowed hosts (E008) and site URL (E009), cookies that may travel without HTTPS (E010),
  Pay v3 (payouts) not configured (E011);
- mall.E004, E006 and E012 run everywhere, with every `manage.py` command and at every start: the
  sandbox's published WeChat Pay keys with a host other than the local sandbox would let anyone
  sign a payment notification (or encrypt a transfer notify); a certificate or key variable naming
  a missing file would otherwise surface only when a refund or a payout is sent, and a Pay v3
  setting of the wrong form (an APIv3 key that is not 32 bytes, a public key file that holds no
  RSA public key) only when a payout is.

`refuse_unsafe_settings()` is the startup guard: config.wsgi and config.asgi call it once Django
is set up, config.celery when a worker or beat starts. The checks read settings only (no database,
no network), so the guard costs nothing and runs before anything is served.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from config.settings.env import local_secret_path

TAG = "settings"

Check = Callable[..., list[checks.CheckMessage]]

# WeChat base URLs: the variable, and WeChat's own host for the hint.
WECHAT_BASES = {
    "WECHAT_API_BASE": "https://api.weixin.qq.com/",
    "WECHAT_PAY_API_BASE": "https://api.mch.weixin.qq.com/",
    "WECHAT_PAY_SECURE_API_BASE": "https://api.mch.weixin.qq.com/",
}
PAY_BASES = ("WECHAT_PAY_API_BASE", "WECHAT_PAY_SECURE_API_BASE")
CREDENTIAL_HINTS = {
    "WECHAT_APP_ID": "The mini-program's AppID (公众平台 → 开发管理 → 开发设置).",
    "WECHAT_APP_SECRET": "The mini-program's AppSecret (公众平台 → 开发管理 → 开发设置).",
    "WECHAT_MCH_ID": "The WeChat Pay merchant id (商户平台 → 账户中心 → 商户信息).",
    "WECHAT_PAY_API_KEY": "The merchant's API v2 key (商户平台 → 账户中心 → API安全).",
    "WECHAT_PAY_APIV3_KEY": "The merchant's APIv3 key (商户平台 → 账户中心 → API安全 → 设置APIv3密钥).",
    "WECHAT_PAY_PUBLIC_KEY_ID": "The id of WeChat Pay's public key (商户平台 → 账户中心 → API安全 → 微信支付公钥).",
    "WECHAT_MESSAGE_TOKEN": "The message push Token (公众平台 → 开发管理 → 开发设置 → 消息推送).",
}
CERTIFICATES = ("WECHAT_PAY_MCH_CERT", "WECHAT_PAY_MCH_KEY", "WECHAT_PAY_CA_BUNDLE", "WECHAT_PAY_PUBLIC_KEY")
# Payouts (商家转账) exist only in Pay v3: without these nothing can be paid out.
PAY_V3_SETTINGS = {
    "WECHAT_PAY_APIV3_KEY": "the merchant's APIv3 key (32 characters; 商户平台 → 账户中心 → API安全)",
    "WECHAT_PAY_PUBLIC_KEY": "the path of WeChat Pay's public key, pub_key.pem (商户平台 → 账户中心 → API安全 → "
                             "微信支付公钥)",
    "WECHAT_PAY_PUBLIC_KEY_ID": "the id of that public key (PUB_KEY_ID_…), shown beside it",
}
APIV3_KEY_BYTES = 32
# Refunds (secapi/pay/refund) cannot work without the merchant's client certificate.
REQUIRED_CERTIFICATES = {
    "WECHAT_PAY_MCH_CERT": "apiclient_cert.pem",
    "WECHAT_PAY_MCH_KEY": "apiclient_key.pem",
}


def is_local_host(host: str | None) -> bool:
    """True for a host only this machine can reach (localhost, loopback, 0.0.0.0) or no host."""
    if not host:
        return True
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def url_host(url: str) -> str | None:
    return urlsplit(url).hostname


# ---------------------------------------------------------------------------------------------
# Deploy checks


def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to hand out an empty key
        key = ""
    if key and not _is_local_secret(key):
        return []
    return [checks.Error(
        "DJANGO_SECRET_KEY is not set: production needs a secret key of its own "
        "(the one generated under var/ is for local runs only).",
        hint="Set DJANGO_SECRET_KEY to at least 50 random characters, kept out of the repository.",
        id="mall.E001",
    )]


def _is_local_secret(key: str) -> bool:
    path = local_secret_path("DJANGO_SECRET_KEY")
    return path.is_file() and path.read_text().strip() == key


def check_debug(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.DEBUG:
        return []
    return [checks.Error(
        "DJANGO_DEBUG is on: debug pages show settings, SQL and stack traces to anyone.",
        hint="Unset DJANGO_DEBUG (or set it to false).",
        id="mall.E002",
    )]


def check_sandbox_credentials(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(f"{name} is the sandbox's default ({sandbox_value!r}).", hint=CREDENTIAL_HINTS[name],
                     id="mall.E003")
        for name, sandbox_value in settings.WECHAT_SANDBOX_CREDENTIALS.items()
        if getattr(settings, name) == sandbox_value
    ]


def check_wechat_bases(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(f"{name} points at the local WeChat sandbox ({getattr(settings, name)}).",
                     hint=f"Set {name} to WeChat's host, {wechat_url}", id="mall.E005")
        for name, wechat_url in WECHAT_BASES.items()
        if is_local_host(url_host(getattr(settings, name)))
    ]


def check_certificates(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name, file_name in REQUIRED_CERTIFICATES.items():
        if not getattr(settings, name):
            errors.append(checks.Error(
                f"{name} is not set: refunds need the merchant's client certificate.",
                hint=f"Set {name} to the path of {file_name} from the WeChat Pay console "
                     "(商户平台 → 账户中心 → API安全 → API证书).",
                id="mall.E007",
            ))
    return errors


def check_pay_v3_configured(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(f"{name} is not set: payouts (WeChat Pay 商家转账, Pay v3) need it.",
                     hint=f"Set {name} to {what}.", id="mall.E011")
        for name, what in PAY_V3_SETTINGS.items()
        if not getattr(settings, name)
    ]


def check_allowed_hosts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    hosts = list(settings.ALLOWED_HOSTS)
    if any(not is_local_host(host) for host in hosts):
        return []
    return [checks.Error(
        f"DJANGO_ALLOWED_HOSTS allows only local hosts ({','.join(hosts) or 'none'}).",
        hint="Set DJANGO_ALLOWED_HOSTS to the public host names this server answers to, comma-separated.",
        id="mall.E008",
    )]


def check_site_url(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    url = settings.SITE_URL
    if urlsplit(url).scheme in {"http", "https"} and not is_local_host(url_host(url)):
        return []
    return [checks.Error(
        f"SITE_URL is {url!r}: WeChat Pay sends payment notifications to URLs built from it.",
        hint="Set SITE_URL to this server's public base URL, e.g. https://mall.example.com",
        id="mall.E009",
    )]


def check_secure_cookies(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"{name} is off: the console's {what} would be sent over plain HTTP too.",
            hint=f"config/settings/security.py turns {name} on with MALL_ENV=production; do not override it.",
            id="mall.E010",
        )
        for name, what in (("SESSION_COOKIE_SECURE", "session cookie"), ("CSRF_COOKIE_SECURE", "CSRF cookie"))
        if not getattr(settings, name)
    ]


# ---------------------------------------------------------------------------------------------
# Everywhere


def check_certificate_files(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """mall.E006: a certificate variable naming a file that is not there, at startup, not at refund time.

    Outside production the sandbox's own files (under WECHAT_SANDBOX_CERT_DIR, written when the
    sandbox first starts) may not exist yet; any other path must.
    """
    production = settings.MALL_ENV == "production"
    sandbox_dir = Path(settings.WECHAT_SANDBOX_CERT_DIR)
    errors: list[checks.CheckMessage] = []
    for name in CERTIFICATES:
        path = getattr(settings, name)
        if not path or (Path(path).is_file() and os.access(path, os.R_OK)):
            continue
        if not production and Path(path).parent == sandbox_dir:
            continue
        errors.append(checks.Error(
            f"{name} names {path}, which is not a readable file.",
            hint=f"Mount the file there, or point {name} at where it is (or unset it outside production).",
            id="mall.E006",
        ))
    return errors


def check_sandbox_pay_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.WECHAT_PAY_API_KEY != settings.WECHAT_SANDBOX_CREDENTIALS["WECHAT_PAY_API_KEY"]:
        return []
    return [
        checks.Error(
            f"WECHAT_PAY_API_KEY is the sandbox's published key, but {name} points at "
            f"{url_host(getattr(settings, name))}, not the local sandbox: anyone could sign a "
            "payment notification with it.",
            hint="Set WECHAT_PAY_API_KEY to the merchant's API v2 key (商户平台 → 账户中心 → API安全).",
            id="mall.E004",
        )
        for name in PAY_BASES
        if not is_local_host(url_host(getattr(settings, name)))
    ]


def check_sandbox_apiv3_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.WECHAT_PAY_APIV3_KEY != settings.WECHAT_SANDBOX_CREDENTIALS["WECHAT_PAY_APIV3_KEY"]:
        return []
    if is_local_host(url_host(settings.WECHAT_PAY_API_BASE)):
        return []
    return [checks.Error(
        f"WECHAT_PAY_APIV3_KEY is the sandbox's published key, but WECHAT_PAY_API_BASE points at "
        f"{url_host(settings.WECHAT_PAY_API_BASE)}, not the local sandbox: anyone could encrypt a "
        "transfer notification with it.",
        hint=f"Set WECHAT_PAY_APIV3_KEY to {PAY_V3_SETTINGS['WECHAT_PAY_APIV3_KEY']}.",
        id="mall.E004",
    )]


def check_pay_v3_values(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """mall.E012: Pay v3 settings of the wrong form, at startup rather than at the first payout."""
    errors: list[checks.CheckMessage] = []
    key = settings.WECHAT_PAY_APIV3_KEY
    if key and len(key.encode("utf-8")) != APIV3_KEY_BYTES:
        errors.append(checks.Error(
            f"WECHAT_PAY_APIV3_KEY is {len(key.encode('utf-8'))} bytes long; an APIv3 key is {APIV3_KEY_BYTES}.",
            hint=f"Set WECHAT_PAY_APIV3_KEY to {PAY_V3_SETTINGS['WECHAT_PAY_APIV3_KEY']}.", id="mall.E012"))
    key_id = settings.WECHAT_PAY_PUBLIC_KEY_ID
    if key_id and not key_id.startswith("PUB_KEY_ID_"):
        errors.append(checks.Error(
            f"WECHAT_PAY_PUBLIC_KEY_ID is {key_id!r}, not a WeChat Pay public key id (PUB_KEY_ID_…).",
            hint=f"Set WECHAT_PAY_PUBLIC_KEY_ID to {PAY_V3_SETTINGS['WECHAT_PAY_PUBLIC_KEY_ID']}.", id="mall.E012"))
    path = settings.WECHAT_PAY_PUBLIC_KEY
    if path and Path(path).is_file() and os.access(path, os.R_OK) and not _is_rsa_public_key(Path(path)):
        errors.append(checks.Error(
            f"WECHAT_PAY_PUBLIC_KEY names {path}, which holds no RSA public key in PEM form.",
            hint=f"Point WECHAT_PAY_PUBLIC_KEY at {PAY_V3_SETTINGS['WECHAT_PAY_PUBLIC_KEY']}.", id="mall.E012"))
    return errors


def _is_rsa_public_key(path: Path) -> bool:
    try:
        return isinstance(serialization.load_pem_public_key(path.read_bytes()), rsa.RSAPublicKey)
    except (ValueError, TypeError, OSError):
        return False


DEPLOY_CHECKS: Sequence[Check] = (
    check_secret_key, check_debug, check_sandbox_credentials, check_wechat_bases, check_certificates,
    check_allowed_hosts, check_site_url, check_secure_cookies, check_pay_v3_configured,
)
ALWAYS_CHECKS: Sequence[Check] = (check_sandbox_pay_key, check_sandbox_apiv3_key, check_certificate_files,
                                  check_pay_v3_values)


def register() -> None:
    """Register the checks with Django under the tag "settings" (idempotent: a set)."""
    for check in DEPLOY_CHECKS:
        checks.register(check, TAG, deploy=True)
    for check in ALWAYS_CHECKS:
        checks.register(check, TAG)


def settings_errors(*, production: bool) -> list[checks.CheckMessage]:
    """The errors of ALWAYS_CHECKS, and of DEPLOY_CHECKS too in production; none silenced."""
    chosen = [*ALWAYS_CHECKS, *(DEPLOY_CHECKS if production else ())]
    messages = [message for check in chosen for message in check()]
    return [message for message in messages if message.is_serious() and not message.is_silenced()]


def refuse_unsafe_settings() -> None:
    """Raise ImproperlyConfigured listing every settings error; return if there is none.

    In production (MALL_ENV=production) the deploy checks count too. Reads settings only.
    """
    production = settings.MALL_ENV == "production"
    errors = settings_errors(production=production)
    if not errors:
        return
    mode = "MALL_ENV=production" if production else f"MALL_ENV={settings.MALL_ENV}"
    lines = [f"Refusing to start ({mode}): fix these settings first."]
    for error in errors:
        lines.append(f"  ({error.id}) {error.msg}")
        if error.hint:
            lines.append(f"      HINT: {error.hint}")
    raise ImproperlyConfigured("\n".join(lines))
