"""The console's own names for third-party models: proxies, no tables of their own."""

from django_otp.plugins.otp_totp.models import TOTPDevice


class TwoFactorDevice(TOTPDevice):
    """An operator's authenticator app (django-otp's TOTP device), under the console's Chinese name
    (django-otp's "TOTP device" is not marked for translation)."""

    class Meta:
        proxy = True
        verbose_name = "两步验证设备"
        verbose_name_plural = "两步验证设备"
