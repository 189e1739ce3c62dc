"""The campaigns part of /api/v1/: coupons (centre, claim, mine), codes and scans, flash sales,
greetings, the points mall, distribution (分销), group-buy reads (拼团)."""

from campaigns.api import coupons, delivery, distribution, flash, greetings, groupbuy, points_mall

urlpatterns = (coupons.urlpatterns + delivery.urlpatterns + flash.urlpatterns + points_mall.urlpatterns
               + greetings.urlpatterns + distribution.urlpatterns + groupbuy.urlpatterns)
