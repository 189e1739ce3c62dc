"""The campaigns part of /api/v1/: coupons (centre, claim, mine), codes and scans, flash sales,
greetings, the points mall, distribution (分销), sharing a product."""

from campaigns.api import coupons, delivery, distribution, flash, greetings, points_mall, sharing

urlpatterns = (coupons.urlpatterns + delivery.urlpatterns + flash.urlpatterns + points_mall.urlpatterns
               + greetings.urlpatterns + distribution.urlpatterns + sharing.urlpatterns)
