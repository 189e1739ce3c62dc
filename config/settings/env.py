"""Reading the environment, and the local secret generated on first run."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("MALL_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def base_url(name: str, default: str) -> str:
    """`name`'s URL (or `default`) ending in exactly one "/": the form every caller joins onto.

    `https://api.weixin.qq.com` and `https://api.weixin.qq.com/` are the same setting; callers
    append endpoints ("sns/jscode2session", "poll/query.do") without a slash of their own.
    """
    return (os.environ.get(name) or default).strip().rstrip("/") + "/"


def site_url(name: str, default: str) -> str:
    """`name`'s URL (or `default`) without a trailing "/": callers append absolute paths."""
    return (os.environ.get(name) or default).strip().rstrip("/")


def mall_env() -> str:
    """`MALL_ENV`: "local" (default) or "production"; anything else raises ImproperlyConfigured.

    A typo must not pass for "local": a production server would then start on demo defaults.
    """
    value = os.environ.get("MALL_ENV", "local").strip().lower() or "local"
    if value not in {"local", "production"}:
        raise ImproperlyConfigured(f"MALL_ENV must be 'local' or 'production', not {value!r}")
    return value


def local_secret_path(name: str) -> Path:
    """Where local_secret(name) keeps its value."""
    return VAR_DIR / f"{name.lower()}.secret"


def local_secret(name: str) -> str:
    """A secret generated once under var/ for local runs; production sets the variable."""
    path = local_secret_path(name)
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value
