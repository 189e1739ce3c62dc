"""The campaigns part of /api/v1/: coupons (centre, claim, mine), codes and scans, flash sales."""

from campaigns.api import coupons, distribution, flash, greetings, points_mall

urlpatterns = (coupons.urlpatterns + distribution.urlpatterns + flash.urlpatterns + points_mall.urlpatterns
               + greetings.urlpatterns)
