"""WeChat mini-program and Pay v2. Base URLs point at the sandbox unless set to WeChat's."""

from __future__ import annotations

from .env import env, env_int

WECHAT_APP_ID = env("WECHAT_APP_ID", "wxsandbox0000000001")
WECHAT_APP_SECRET = env("WECHAT_APP_SECRET", "sandbox-app-secret")
WECHAT_MCH_ID = env("WECHAT_MCH_ID", "1900000001")
WECHAT_PAY_API_KEY = env("WECHAT_PAY_API_KEY", "sandboxpaykey0000000000000000001")  # 32 chars
WECHAT_PAY_MCH_CERT = env("WECHAT_PAY_MCH_CERT")  # client certificate (refunds)
WECHAT_PAY_MCH_KEY = env("WECHAT_PAY_MCH_KEY")
WECHAT_SANDBOX_PORT = env_int("WECHAT_SANDBOX_PORT", 8900)
WECHAT_API_BASE = env("WECHAT_API_BASE", f"http://127.0.0.1:{WECHAT_SANDBOX_PORT}/")
WECHAT_PAY_API_BASE = env("WECHAT_PAY_API_BASE", f"http://127.0.0.1:{WECHAT_SANDBOX_PORT}/pay/")
WECHAT_HTTP_TIMEOUT = env_int("WECHAT_HTTP_TIMEOUT", 10)


# Refunds: WeChat Pay's certificate-only API (secapi/pay/refund) over mutual TLS with the merchant
# certificate (WECHAT_PAY_MCH_CERT / _KEY, PEM files from the WeChat Pay console). In production
# the secure base is WeChat's host too and the CA bundle is the system's (""). Locally the sandbox
# serves it on the port after its own and issues a CA and merchant certificate under var/, which
# the defaults below point at.
from .env import VAR_DIR  # noqa: E402

WECHAT_SANDBOX_CERT_DIR = env("WECHAT_SANDBOX_CERT_DIR", str(VAR_DIR / "wechat-sandbox"))
WECHAT_PAY_SECURE_API_BASE = env("WECHAT_PAY_SECURE_API_BASE",
                                 f"https://127.0.0.1:{WECHAT_SANDBOX_PORT + 1}/pay/")
_PAY_IS_LOCAL_SANDBOX = WECHAT_PAY_SECURE_API_BASE.startswith("https://127.0.0.1:")
WECHAT_PAY_CA_BUNDLE = env("WECHAT_PAY_CA_BUNDLE",
                           f"{WECHAT_SANDBOX_CERT_DIR}/ca.pem" if _PAY_IS_LOCAL_SANDBOX else "")
if _PAY_IS_LOCAL_SANDBOX and not WECHAT_PAY_MCH_CERT:
    WECHAT_PAY_MCH_CERT = f"{WECHAT_SANDBOX_CERT_DIR}/apiclient_cert.pem"
    WECHAT_PAY_MCH_KEY = f"{WECHAT_SANDBOX_CERT_DIR}/apiclient_key.pem"
