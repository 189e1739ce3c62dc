"""Signing in to the console (config/signin.py): django-axes' lockout and django-otp's TOTP devices.

Five failed sign-ins lock the account, and five from one address lock the address (each on its
own), for CONSOLE_LOCKOUT_MINUTES; a success resets the account's count. The per-address lockout
reads the client's address behind NUM_PROXIES trusted proxies (config.signin.client_address), the
same rule as the API's rate limits, so nginx's own address is never what gets locked.
"""

from __future__ import annotations

import datetime as dt

from .env import env_int

__all__ = [
    "AUTHENTICATION_BACKENDS", "AXES_CLIENT_IP_CALLABLE", "AXES_COOLOFF_TIME", "AXES_ENABLE_ADMIN",
    "AXES_FAILURE_LIMIT", "AXES_LOCKOUT_CALLABLE", "AXES_LOCKOUT_PARAMETERS", "AXES_RESET_ON_SUCCESS",
    "AXES_VERBOSE", "OTP_TOTP_ISSUER",
]

# django-axes' backend first: it refuses a locked account or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CONSOLE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("CONSOLE_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.signin.client_address"
AXES_LOCKOUT_CALLABLE = "config.signin.locked_out"
# The console's own pages for the attempts and the sign-in log, in Chinese (config.admin).
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# The name an authenticator app shows beside the code.
OTP_TOTP_ISSUER = "小程序商城运营后台"
