"""The campaigns part of /api/v1/: coupons (centre, claim, codes, scans) and flash sales."""

from campaigns.api import coupons, flash

urlpatterns = coupons.urlpatterns + flash.urlpatterns
