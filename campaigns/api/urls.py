"""The campaigns part of /api/v1/: coupons (centre, claim, mine), codes and scans, flash sales."""

from campaigns.api import coupons, distribution, flash

urlpatterns = coupons.urlpatterns + distribution.urlpatterns + flash.urlpatterns
