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
