"""The review console (评价管理): Chinese list and filters, the pending queue, actions and the reply,
all through the review services (audit rows with the operator)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from shop.models import Review, ReviewStatus
from shop.models.reviews import ReviewEvent
from tests.builders import buyer, received_order
from tests.shop.support_reviews import make_review

pytestmark = pytest.mark.django_db

LIST = "admin:shop_review_changelist"


@pytest.fixture
def lines(freight):
    from tests.factories import SkuFactory

    sku = SkuFactory.create(stock=100, product__name="婴儿湿巾")
    return [received_order(member=buyer(nickname=f"会员{i}"), lines=[(sku, 1)]).lines.get() for i in range(5)]


@pytest.fixture
def reviews(lines):
    return {
        "published": make_review(lines[0], content="很好用，已回购", photos=2),
        "pending": make_review(lines[1], rating=2, content="待审的评价", status=ReviewStatus.PENDING,
                               moderation={"content": {"suggest": "review", "label": 21000, "label_text": "其他",
                                                       "keyword": "待审"}}),
        "hidden": make_review(lines[2], rating=1, status=ReviewStatus.HIDDEN, content="被隐藏"),
        "auto": make_review(lines[3], content="", is_auto=True, anonymous=True),
        "followup_pending": make_review(lines[4], content="不错", followup_content="追评待审",
                                        followup_status=ReviewStatus.PENDING),
    }


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def save_page(admin_client, review, **fields):
    """POST the review page as the browser does (the audit-trail inline's management form too)."""
    events = ReviewEvent.objects.filter(review=review).count()
    data = {"operation": "", "reply_text": "", "events-TOTAL_FORMS": events, "events-INITIAL_FORMS": events,
            "events-MIN_NUM_FORMS": 0, "events-MAX_NUM_FORMS": 0, **fields}
    return admin_client.post(reverse("admin:shop_review_change", args=[review.pk]), data)


def act(admin_client, action, *objs):
    return admin_client.post(reverse(LIST), {"action": action, "_selected_action": [o.pk for o in objs]},
                             follow=True)


def test_list_is_in_chinese_with_filters_and_actions(admin_client, reviews):
    html = page(admin_client.get(reverse(LIST)))

    for text in ("评价", "审核队列", "待审核（评价或追评）", "有图", "系统默认好评", "精选", "追评",
                 "发布所选评价", "隐藏所选评价", "设为精选", "取消精选", "发布所选追评", "隐藏所选追评",
                 "很好用，已回购", "（系统默认好评）", "婴儿湿巾", "(匿名)", "★★☆☆☆", "追评：追评待审"):
        assert text in html, text
    assert "增加 评价" not in html  # reviews come from shoppers


def test_pending_queue_has_pending_reviews_and_followups(admin_client, reviews):
    html = page(admin_client.get(reverse(LIST), {"queue": "pending"}))

    assert "待审的评价" in html and "追评待审" in html
    assert "很好用，已回购" not in html and "被隐藏" not in html


@pytest.mark.parametrize("query, shown, hidden", [
    ({"has_photos__exact": "1"}, "很好用，已回购", "待审的评价"),
    ({"is_auto__exact": "1"}, "（系统默认好评）", "很好用，已回购"),
    ({"rating__exact": "1"}, "被隐藏", "很好用，已回购"),
    ({"status__exact": "hidden"}, "被隐藏", "待审的评价"),
    ({"q": "回购"}, "很好用，已回购", "被隐藏"),
])
def test_filters_and_search(admin_client, reviews, query, shown, hidden):
    html = page(admin_client.get(reverse(LIST), query))
    assert shown in html and hidden not in html


def test_publish_action_goes_through_the_service_with_an_audit_row(admin_client, admin_user, reviews):
    pending = reviews["pending"]

    html = page(act(admin_client, "publish_selected", pending, reviews["published"]))

    assert "已发布 2 条评价" in html
    assert Review.objects.get(pk=pending.pk).status == ReviewStatus.PUBLISHED
    event = ReviewEvent.objects.get(review=pending)
    assert (event.action, event.from_status, event.to_status, event.actor, event.operator_id) == (
        "published", "pending", "published", "operator", admin_user.pk)
    assert not ReviewEvent.objects.filter(review=reviews["published"]).exists()  # a repeat is a no-op


def test_hide_takes_a_review_out_of_featured(admin_client, reviews):
    review = reviews["published"]
    act(admin_client, "feature_selected", review)
    assert Review.objects.get(pk=review.pk).is_featured is True

    html = page(act(admin_client, "hide_selected", review))

    assert "已隐藏 1 条评价" in html
    review.refresh_from_db()
    assert (review.status, review.is_featured) == (ReviewStatus.HIDDEN, False)
    assert list(ReviewEvent.objects.filter(review=review).values_list("action", flat=True)) == ["featured", "hidden"]


def test_only_published_reviews_can_be_featured(admin_client, reviews):
    html = page(act(admin_client, "feature_selected", reviews["pending"], reviews["published"]))

    assert "已精选 1 条评价" in html
    assert "只能精选已发布的评价" in html
    assert Review.objects.get(pk=reviews["pending"].pk).is_featured is False


def test_unfeature(admin_client, reviews):
    review = reviews["published"]
    act(admin_client, "feature_selected", review)

    page(act(admin_client, "unfeature_selected", review))

    assert Review.objects.get(pk=review.pk).is_featured is False


def test_followup_actions(admin_client, reviews):
    review = reviews["followup_pending"]

    html = page(act(admin_client, "publish_followup_selected", review, reviews["published"]))

    assert "已发布 1 条追评" in html
    review.refresh_from_db()
    assert (review.status, review.followup_status) == (ReviewStatus.PUBLISHED, ReviewStatus.PUBLISHED)
    act(admin_client, "hide_followup_selected", review)
    review.refresh_from_db()
    assert (review.status, review.followup_status) == (ReviewStatus.PUBLISHED, ReviewStatus.HIDDEN)


def test_review_page_reply_is_saved_by_the_service_and_shown_to_shoppers(admin_client, admin_user, reviews,
                                                                          api_client):
    review = reviews["published"]
    url = reverse("admin:shop_review_change", args=[review.pk])
    html = page(admin_client.get(url))
    assert "商家回复" in html and "审核操作" in html and "内容安全检测" in html

    response = save_page(admin_client, review, reply_text="感谢您的支持，欢迎再来！")

    assert response.status_code == 302
    review.refresh_from_db()
    assert review.reply == "感谢您的支持，欢迎再来！" and review.replied_at is not None
    event = ReviewEvent.objects.get(review=review)
    assert (event.action, event.operator_id) == ("replied", admin_user.pk)
    public = {r["id"]: r for r in api_client.get(f"/api/v1/products/{review.product_id}/reviews/").json()["results"]}
    assert public[review.pk]["reply"] == "感谢您的支持，欢迎再来！" and public[review.pk]["replied_at"]


def test_review_page_operation_publishes_a_pending_review(admin_client, reviews):
    review = reviews["pending"]
    url = reverse("admin:shop_review_change", args=[review.pk])
    html = page(admin_client.get(url))
    assert "微信建议人工审核（其他，命中「待审」）" in html

    assert save_page(admin_client, review, operation="publish").status_code == 302

    assert Review.objects.get(pk=review.pk).status == ReviewStatus.PUBLISHED


def test_review_page_refuses_clearing_a_reply(admin_client, reviews):
    from shop.services.reviews import review_reply

    review = reviews["published"]
    review_reply(review_id=review.pk, text="谢谢", operator=None)

    response = save_page(admin_client, review, reply_text="")

    assert response.status_code == 200 and "回复不能清空" in response.content.decode()
    assert Review.objects.get(pk=review.pk).reply == "谢谢"


def test_reviews_cannot_be_deleted(admin_client, reviews):
    response = admin_client.post(reverse(LIST), {"action": "delete_selected",
                                                 "_selected_action": [reviews["hidden"].pk]}, follow=True)
    assert Review.objects.filter(pk=reviews["hidden"].pk).exists()
    assert response.status_code == 200


def test_operator_without_change_permission_sees_no_actions(client, reviews):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("viewer", password="pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_review"))
    client.force_login(user)

    html = page(client.get(reverse(LIST)))

    assert "很好用，已回购" in html and "发布所选评价" not in html


def test_list_query_count_does_not_grow_with_rows(admin_client, lines, freight, django_assert_max_num_queries):
    from tests.factories import SkuFactory

    sku = SkuFactory.create(stock=100)
    for i in range(3):
        make_review(received_order(member=buyer(nickname=f"甲{i}"), lines=[(sku, 1)]).lines.get(), photos=1)
    with django_assert_max_num_queries(20) as few:
        page(admin_client.get(reverse(LIST)))
    budget = len(few.captured_queries)  # now: a later request empties the connection's query log
    for i in range(12):
        make_review(received_order(member=buyer(nickname=f"乙{i}"), lines=[(sku, 1)]).lines.get(), photos=2)

    with django_assert_max_num_queries(budget):
        page(admin_client.get(reverse(LIST)))
