"""HTTPS and cookies: in production (MALL_ENV=production) cookies are sent over HTTPS only.

nginx terminates TLS in front of the app (README, "Production notes") and sets
`X-Forwarded-Proto`; trusting it (`DJANGO_TLS_PROXY`, on by default in production) is what makes
Django see the request as secure, so absolute URLs (signed media links, notify URLs built from
requests) say https and SecurityMiddleware sends HSTS. Trust it only behind a proxy that
overwrites the header a client sends. The deploy check mall.E010 refuses a production process
whose session or CSRF cookie could travel in clear.
"""

from __future__ import annotations

from .env import env_bool, env_int, mall_env

__all__ = [
    "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE",
]

_PRODUCTION = mall_env() == "production"

# The console's session and its CSRF token never go over plain HTTP in production.
SESSION_COOKIE_SECURE = _PRODUCTION
CSRF_COOKIE_SECURE = _PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_TLS_PROXY", _PRODUCTION) else None
# Browsers remember to use HTTPS for this host; 0 (off) outside production, where there is no TLS.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _PRODUCTION else 0)
