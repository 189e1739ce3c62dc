"""The campaigns part of /api/v1/: coupons (centre, claim, mine), codes and scans, flash sales,
greetings, the points mall, distribution (分销), group-buy (拼团), 砍价, shares and invitations,
sharing a product (card and poster)."""

from campaigns.api import (
    bargain,
    coupons,
    delivery,
    distribution,
    flash,
    greetings,
    groupbuy,
    points_mall,
    product_posters,
    sharing,
)

urlpatterns = (coupons.urlpatterns + delivery.urlpatterns + flash.urlpatterns + points_mall.urlpatterns
               + greetings.urlpatterns + distribution.urlpatterns + groupbuy.urlpatterns
               + bargain.urlpatterns + sharing.urlpatterns + product_posters.urlpatterns)
