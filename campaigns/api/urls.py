"""The campaigns part of /api/v1/: coupons (centre, claim, mine), codes and scans, flash sales,
greetings, the points mall, distribution (分销), group-buy (拼团), 砍价, shares and invitations."""

from campaigns.api import bargain, coupons, delivery, distribution, flash, greetings, groupbuy, points_mall, sharing

urlpatterns = (coupons.urlpatterns + delivery.urlpatterns + flash.urlpatterns + points_mall.urlpatterns
               + greetings.urlpatterns + distribution.urlpatterns + groupbuy.urlpatterns
               + bargain.urlpatterns + sharing.urlpatterns)
