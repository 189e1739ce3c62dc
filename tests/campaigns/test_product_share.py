"""Sharing a product: the card, and the poster whose code carries the product and the sharer —
made once per product version and sharer, read back by the sandbox's phone camera."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from campaigns.models import Distributor, DistributorStatus, ProductPoster, Share, ShareSignup
from campaigns.services.product_posters import product_posters_forget_member
from shop.demo.images import product_image
from tests.factories import SkuFactory
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(db):
    sku = SkuFactory.create(price_fen=8900, original_price_fen=12900, stock=5)
    SkuFactory.create(product=sku.product, price_fen=9900, stock=5)
    product = sku.product
    product.name, product.subtitle = "有机婴儿米粉 高铁配方 6月龄以上", "细腻易冲调，宝宝第一口辅食"
    product.main_image.save("rice.jpg", ContentFile(product_image(seed=7, shape="circle",
                                                                  palette=((250, 200, 150),))), save=True)
    return product


def share(shopper, product_id):
    response = shopper.client.get(f"/api/v1/products/{product_id}/share")
    return response


def poster_bytes(product_id, member_id=None):
    row = ProductPoster.objects.get(product_id=product_id, **({"sharer_id": member_id} if member_id else {}))
    with row.poster.open("rb") as f:
        return f.read()


def test_the_card_and_the_poster_carry_the_product_and_the_member(shopper, product, sandbox):
    response = share(shopper, product.pk)

    assert response.status_code == 200, response.json()
    body = response.json()
    shared = Share.objects.get()
    assert (shared.sharer_id, shared.kind, shared.target) == (shopper.member.pk, "product", str(product.pk))
    scene = f"p={product.pk}&s={shared.share_no}"
    assert body["title"] == "¥89起｜有机婴儿米粉 高铁配方 6月龄以上"
    assert body["path"] == f"pages/product/detail?id={product.pk}&s={shared.share_no}"
    assert (body["scene"], body["sharer_kind"], body["share_no"]) == (scene, "member", shared.share_no)
    assert body["image_url"].startswith("http://testserver/media/products/")
    assert body["poster_url"].startswith("http://testserver/private-media/share/posters/")
    # the phone's camera reads the poster's code: the product page, with the product and the sharer
    assert sandbox.scan_wxacode(poster_bytes(product.pk)) == {"scene": scene, "page": "pages/product/detail"}


def test_the_poster_is_made_once_per_version_and_the_code_once_ever(shopper, product, sandbox):
    share(shopper, product.pk)
    first = ProductPoster.objects.get()

    share(shopper, product.pk)
    assert ProductPoster.objects.get().poster.name == first.poster.name

    product.name = "有机婴儿米粉 新配方"
    product.save()
    share(shopper, product.pk)

    renewed = ProductPoster.objects.get()
    assert renewed.poster.name != first.poster.name and renewed.version != first.version
    assert renewed.code.name == first.code.name
    assert len(sandbox.wxacodes(scene=first.scene)) == 1
    assert not renewed.poster.storage.exists(first.poster.name)


def test_an_active_distributor_shares_with_their_distributor_scene(shopper, product, sandbox):
    distributor = Distributor.objects.create(member=shopper.member, status=DistributorStatus.ACTIVE)

    body = share(shopper, product.pk).json()

    assert (body["scene"], body["sharer_kind"], body["share_no"]) == (
        f"p={product.pk}&d={distributor.pk}", "distributor", None)
    assert not Share.objects.exists()


def test_a_friend_who_opens_a_members_poster_is_credited_to_that_share(shopper, product, sandbox):
    body = share(shopper, product.pk).json()
    assert share(shopper, product.pk).json()["share_no"] == body["share_no"]  # one share per poster
    friend = make_shopper()  # registered just now, through the poster

    opened = friend.client.post(f"/api/v1/shares/{body['share_no']}/visits",
                                {"scene": 1047, "device_id": "device-of-the-friend"}, format="json")

    assert opened.status_code == 201, opened.json()
    assert opened.json()["new_member"] is True
    assert ShareSignup.objects.get(member=friend.member).share.sharer_id == shopper.member.pk


def test_an_off_shelf_product_is_404_and_a_wechat_failure_stores_nothing(shopper, product, sandbox):
    product.is_on_shelf = False
    product.save()
    assert (share(shopper, product.pk).status_code, ProductPoster.objects.count()) == (404, 0)

    product.is_on_shelf = True
    product.save()
    sandbox.wxacode_fail_next(1)
    response = share(shopper, product.pk)

    assert (response.status_code, response.json()["code"]) == (502, "upstream_error")
    assert [p.code.name for p in ProductPoster.objects.all()] == [""]
    assert share(shopper, product.pk).status_code == 200  # the next try makes it


def test_a_deleted_member_loses_their_posters(shopper, product, sandbox, django_capture_on_commit_callbacks):
    share(shopper, product.pk)
    row = ProductPoster.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        assert product_posters_forget_member(member_id=shopper.member.pk) == 1

    assert not ProductPoster.objects.exists()
    assert not row.poster.storage.exists(row.poster.name)
