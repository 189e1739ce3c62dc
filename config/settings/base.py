"""Core Django settings. Concern modules (database, drf, celery, wechat, logging) follow."""

from __future__ import annotations

from .env import BASE_DIR, VAR_DIR, env, env_bool, local_secret, mall_env, site_url

# "production": web and worker processes refuse to start unless the deploy checks pass
# (config/checks.py); "local" (make run, tests) runs on the sandbox defaults.
MALL_ENV = mall_env()
# Production sets DJANGO_SECRET_KEY: it never writes (or reads) the local one under var/; an empty
# key is refused at startup by check mall.E001, naming the variable.
SECRET_KEY = env("DJANGO_SECRET_KEY") or ("" if MALL_ENV == "production" else local_secret("DJANGO_SECRET_KEY"))
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h for h in env("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    # Console sign-in: lockout after failed attempts, TOTP two-factor (config/signin.py).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "catalog",
    "members",
    "shop",
    "campaigns",
    "payments",
    "analytics",
    "wechat",
    "config",  # its system checks (config/checks.py) and the beat schedule's admin
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Phone numbers in the console: whole or 138****8000 by the operator's role (core.privacy).
    "core.privacy.phone_policy_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a refused sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# The console's own Chinese for what Django's and the apps' zh_Hans catalogues lack (locale/).
LOCALE_PATHS = [BASE_DIR / "locale"]
# The console's date and time formats (2026-12-05 14:30) over Django's zh-hans ones.
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Serve straight from the apps' static folders when collectstatic has not run (dev, tests).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Public base URL of this server (notify URLs handed to WeChat are built from it), kept without a
# trailing slash: SITE_URL + reverse(...) is the absolute URL.
SITE_URL = site_url("SITE_URL", "http://127.0.0.1:8000")

from .analytics import *  # noqa: E402,F403
from .campaigns import *  # noqa: E402,F403
from .celery import *  # noqa: E402,F403
from .database import *  # noqa: E402,F403
from .drf import *  # noqa: E402,F403
from .logging import *  # noqa: E402,F403
from .members import *  # noqa: E402,F403
from .security import *  # noqa: E402,F403
from .shop import *  # noqa: E402,F403
from .signin import *  # noqa: E402,F403
from .storage import *  # noqa: E402,F403
from .wechat import *  # noqa: E402,F403
