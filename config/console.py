"""The console's navigation: one declaration, by the operators' jobs rather than by app.

Each section is a job (商品, 订单, 售后 …) and lists its pages in the order the work is done; a
page is an admin URL (a list, often filtered, or a tool page) and the model whose permission
shows it. An operator sees a page only with the view (or change) permission of its model, and a
section only when it has a page left.

The roles (config.roles) are derived from here too: a section names the roles that work on its
pages and how (VIEW, OPERATE, MANAGE), a page names its own when they differ, and each role gets the
permissions of its pages' models. So a role sees exactly its jobs, and a new page reaches its
section's roles without another list to edit.

A new console page is added here, in its job's section; tests/config/test_console_navigation.py
fails while a registered admin list is reachable from no page. It lives in config because it
names the admin URLs of every app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest
from django.urls import reverse

from analytics.admin.dashboard import TODO_BY_KEY
from analytics.selectors.dashboard import todo_counts
from core.admin import may_view

# What a role may do on a page's model: the model permissions each access level grants. OPERATE is
# the service buttons (审核, 发货…: the change permission) on lists whose forms stay read-only.
Access = tuple[str, ...]
VIEW: Access = ("view",)
OPERATE: Access = ("view", "change")
MANAGE: Access = ("view", "add", "change", "delete")

# The roles (auth groups, config.roles) named below.
OPS, SERVICE, FINANCE, WAREHOUSE = "运营", "客服", "财务", "仓库"


@dataclass(frozen=True)
class Page:
    """A sidebar link. `model` ("app_label.model_name") gates it: the user needs its `perm`
    permission ("view" also accepts change, as the admin does). `badge` names a to-do count
    (analytics.admin.dashboard.TODO) shown beside it."""

    label: str
    url_name: str
    model: str
    params: Mapping[str, str] = field(default_factory=dict)
    perm: str = "view"
    badge: str | None = None
    anchor: str = ""
    # Who works on this page, when not the section's roles (config.roles: role -> access).
    roles: Mapping[str, Access] | None = None

    def url(self) -> str:
        base = reverse(self.url_name)
        query = f"?{urlencode(dict(self.params))}" if self.params else ""
        return f"{base}{query}{'#' + self.anchor if self.anchor else ''}"

    def visible_to(self, user: Any) -> bool:
        if self.perm == "view":
            return may_view(user, self.model)
        if "." in self.perm:  # a custom permission ("shop.second_approve_aftersale"), with the list's view
            return may_view(user, self.model) and bool(user.has_perm(self.perm))
        app_label, model_name = self.model.split(".")
        return bool(user.has_perm(f"{app_label}.{self.perm}_{model_name}"))


@dataclass(frozen=True)
class Section:
    """A job. `roles` say which roles work on its pages and how (config.roles grants each role the
    permissions of its pages' models); a page with its own `roles` replaces them."""

    key: str
    title: str
    pages: tuple[Page, ...]
    roles: Mapping[str, Access] = field(default_factory=dict)

    def page_roles(self, page: Page) -> Mapping[str, Access]:
        return self.roles if page.roles is None else page.roles


def todo_page(key: str, roles: Mapping[str, Access] | None = None) -> Page:
    """The sidebar link of an inbox entry: the same list, the same filter, its count as the badge,
    shown to whoever sees the entry (the list's view permission, and the entry's own if it has one)."""
    entry = TODO_BY_KEY[key]
    return Page(entry.label, entry.url_name, entry.model, entry.params, badge=key, roles=roles,
                **({"perm": entry.perm} if entry.perm else {}))


NAVIGATION: tuple[Section, ...] = (
    Section("home", "首页", (
        Page("运营概览", "admin:index", "shop.order"),
    )),  # no roles of its own: whoever sees the orders sees the overview
    Section("catalog", "商品", (
        Page("商品列表", "admin:catalog_product_changelist", "catalog.product"),
        Page("发布商品", "admin:catalog_product_add", "catalog.product", perm="add"),
        Page("SKU 与库存", "admin:catalog_sku_changelist", "catalog.sku"),
        todo_page("low_stock"),
        Page("库存流水", "admin:catalog_stockmovement_changelist", "catalog.stockmovement"),
        Page("商品分类", "admin:catalog_category_changelist", "catalog.category"),
        Page("运费模板", "admin:catalog_freighttemplate_changelist", "catalog.freighttemplate"),
    ), roles={OPS: MANAGE, WAREHOUSE: VIEW}),
    Section("orders", "订单", (
        Page("全部订单", "admin:shop_order_changelist", "shop.order"),
        todo_page("to_ship"),
        Page("批量发货", "admin:shop_order_shipping_import", "shop.order", perm="change"),
        todo_page("shipping_upload_failed"),
        Page("待付款", "admin:shop_order_changelist", "shop.order", {"status__exact": "pending_payment"}),
        Page("支付记录", "admin:payments_payment_changelist", "payments.payment",
             roles={SERVICE: VIEW, FINANCE: VIEW}),
    ), roles={OPS: VIEW, SERVICE: VIEW, FINANCE: VIEW, WAREHOUSE: OPERATE}),
    Section("aftersales", "售后", (
        Page("全部售后", "admin:shop_aftersale_changelist", "shop.aftersale"),
        todo_page("after_sales_to_review"),
        todo_page("refunds_second_approval"),
        Page("待收退货", "admin:shop_aftersale_changelist", "shop.aftersale", {"status__exact": "return_shipped"}),
        Page("退款记录", "admin:shop_refund_changelist", "shop.refund", roles={SERVICE: VIEW, FINANCE: OPERATE}),
        todo_page("refunds_failed", roles={SERVICE: VIEW, FINANCE: OPERATE}),
    ), roles={SERVICE: OPERATE, FINANCE: VIEW}),
    Section("members", "会员", (
        Page("会员列表", "admin:members_member_changelist", "members.member",
             roles={OPS: MANAGE, SERVICE: VIEW, FINANCE: VIEW}),
        Page("积分调整", "admin:members_pointsadjustment_changelist", "members.pointsadjustment"),
        todo_page("points_adjustments_pending"),
        Page("积分流水", "admin:members_pointsentry_changelist", "members.pointsentry",
             roles={OPS: VIEW, SERVICE: VIEW}),
        Page("积分批次", "admin:members_pointslot_changelist", "members.pointslot"),
        Page("成长值流水", "admin:members_growthentry_changelist", "members.growthentry"),
        Page("等级变动", "admin:members_tierchange_changelist", "members.tierchange"),
        Page("会员标签", "admin:members_tag_changelist", "members.tag"),
        Page("会员打标记录", "admin:members_membertag_changelist", "members.membertag"),
        Page("会员人群", "admin:members_segment_changelist", "members.segment"),
        Page("会员卡", "admin:members_membercard_changelist", "members.membercard"),
        Page("购卡订单", "admin:members_cardpurchase_changelist", "members.cardpurchase"),
        Page("签到记录", "admin:members_signin_changelist", "members.signin"),
        Page("会员等级", "admin:members_tier_changelist", "members.tier"),
        Page("成长值规则", "admin:members_growthrule_changelist", "members.growthrule"),
        Page("会员卡方案", "admin:members_cardplan_changelist", "members.cardplan"),
        Page("会员价设置", "admin:members_memberpricesettings_changelist", "members.memberpricesettings"),
        Page("签到奖励", "admin:members_signinreward_changelist", "members.signinreward"),
        Page("RFM 阈值", "admin:members_rfmthresholds_changelist", "members.rfmthresholds"),
    ), roles={OPS: MANAGE}),
    Section("campaigns", "营销", (
        Page("优惠券", "admin:campaigns_coupontemplate_changelist", "campaigns.coupontemplate"),
        Page("定向发券", "admin:campaigns_targetedissue_changelist", "campaigns.targetedissue"),
        Page("会员优惠券", "admin:campaigns_coupon_changelist", "campaigns.coupon"),
        Page("自动赠券", "admin:campaigns_giftrule_changelist", "campaigns.giftrule"),
        Page("兑换码批次", "admin:campaigns_codebatch_changelist", "campaigns.codebatch"),
        Page("兑换码", "admin:campaigns_redeemcode_changelist", "campaigns.redeemcode"),
        Page("满减活动", "admin:campaigns_fullreduction_changelist", "campaigns.fullreduction"),
        Page("秒杀场次", "admin:campaigns_flashsession_changelist", "campaigns.flashsession"),
        Page("拼团活动", "admin:campaigns_groupbuyactivity_changelist", "campaigns.groupbuyactivity"),
        Page("拼团中的团", "admin:campaigns_groupbuy_changelist", "campaigns.groupbuy", {"status__exact": "forming"}),
        Page("拼团记录", "admin:campaigns_groupbuy_changelist", "campaigns.groupbuy"),
        Page("砍价活动", "admin:campaigns_bargainactivity_changelist", "campaigns.bargainactivity"),
        Page("砍价记录", "admin:campaigns_bargainlaunch_changelist", "campaigns.bargainlaunch"),
        Page("分享记录", "admin:campaigns_share_changelist", "campaigns.share"),
        Page("分享传播分析", "admin:campaigns_share_report", "campaigns.share"),
        Page("邀请记录", "admin:campaigns_invitation_changelist", "campaigns.invitation"),
        Page("邀请有礼设置", "admin:campaigns_invitesettings_changelist", "campaigns.invitesettings"),
        Page("异常行为", "admin:campaigns_share_suspicious", "campaigns.share"),
        Page("设备记录", "admin:campaigns_devicesighting_changelist", "campaigns.devicesighting"),
        Page("积分商城", "admin:campaigns_pointsmallitem_changelist", "campaigns.pointsmallitem"),
        Page("积分兑换记录", "admin:campaigns_pointsexchange_changelist", "campaigns.pointsexchange",
             roles={OPS: MANAGE, WAREHOUSE: OPERATE}),  # 仓库 ships the exchanged goods
        Page("会员卡礼包", "admin:campaigns_cardgiftpack_changelist", "campaigns.cardgiftpack"),
        Page("生日/纪念日祝福", "admin:campaigns_greeting_changelist", "campaigns.greeting"),
        Page("渠道码", "admin:campaigns_channel_changelist", "campaigns.channel"),
        Page("扫码记录", "admin:campaigns_channelscan_changelist", "campaigns.channelscan"),
    ), roles={OPS: MANAGE}),
    Section("distribution", "分销", (
        todo_page("distributors_to_review"),
        Page("分销员", "admin:campaigns_distributor_changelist", "campaigns.distributor"),
        Page("分销员申请", "admin:campaigns_distributorapplication_changelist", "campaigns.distributorapplication"),
        Page("分销员排行", "admin:campaigns_distributor_ranking", "campaigns.distributor"),
        Page("分销关系", "admin:campaigns_binding_changelist", "campaigns.binding"),
        Page("佣金记录", "admin:campaigns_commission_changelist", "campaigns.commission",
             roles={OPS: MANAGE, FINANCE: VIEW}),
        Page("佣金流水", "admin:campaigns_commissionentry_changelist", "campaigns.commissionentry",
             roles={OPS: MANAGE, FINANCE: VIEW}),
        Page("佣金追回", "admin:campaigns_clawback_changelist", "campaigns.clawback",
             roles={OPS: MANAGE, FINANCE: VIEW}),
        # Money leaving the mall: finance decides and pays, operations watch.
        todo_page("withdrawals_to_review", roles={FINANCE: OPERATE, OPS: VIEW}),
        Page("待复核提现", "admin:campaigns_withdrawal_changelist", "campaigns.withdrawal",
             {"status__exact": "awaiting_second"}, roles={FINANCE: OPERATE, OPS: VIEW}),
        Page("提现记录", "admin:campaigns_withdrawal_changelist", "campaigns.withdrawal",
             roles={FINANCE: OPERATE, OPS: VIEW}),
        Page("转账单", "admin:payments_transfer_changelist", "payments.transfer", roles={FINANCE: OPERATE}),
        Page("分销等级", "admin:campaigns_distributorgrade_changelist", "campaigns.distributorgrade"),
        Page("商品佣金比例", "admin:campaigns_commissionrate_changelist", "campaigns.commissionrate"),
        Page("分销设置", "admin:campaigns_distributionsettings_changelist", "campaigns.distributionsettings"),
    ), roles={OPS: MANAGE}),
    # 数据: reports and analyses; the home page's trend is the first of them.
    Section("data", "数据", (
        Page("经营趋势", "admin:index", "shop.order", anchor="trend"),
        Page("每日指标", "admin:analytics_dailykpi_changelist", "analytics.dailykpi"),
        Page("转化漏斗", "admin:analytics_funnel_changelist", "analytics.funnel"),
        Page("留存分析", "admin:analytics_dailykpi_retention", "analytics.dailykpi"),
        Page("页面路径", "admin:analytics_dailykpi_paths", "analytics.dailykpi"),
        Page("商品转化", "admin:analytics_dailykpi_products", "analytics.dailykpi"),
        Page("用户画像", "admin:analytics_dailykpi_profiles", "analytics.dailykpi"),
        Page("RFM 分析", "admin:analytics_dailykpi_rfm", "analytics.dailykpi"),
        Page("渠道效果", "admin:analytics_dailykpi_channels", "analytics.dailykpi"),
        Page("行为事件", "admin:analytics_event_changelist", "analytics.event"),
    ), roles={OPS: VIEW, FINANCE: VIEW}),
    Section("content", "内容", (
        Page("页面装修", "admin:shop_storepage_changelist", "shop.storepage"),
        Page("页面模块", "admin:shop_pageblock_changelist", "shop.pageblock"),
        Page("全部评价", "admin:shop_review_changelist", "shop.review", roles={OPS: MANAGE, SERVICE: OPERATE}),
        todo_page("reviews_to_moderate", roles={OPS: MANAGE, SERVICE: OPERATE}),
        Page("图片安全检测", "admin:wechat_mediacheck_changelist", "wechat.mediacheck"),
        Page("搜索同义词", "admin:catalog_searchsynonym_changelist", "catalog.searchsynonym"),
        Page("搜索热词", "admin:catalog_searchhotword_changelist", "catalog.searchhotword"),
        Page("无结果搜索", "admin:catalog_searchquerystat_changelist", "catalog.searchquerystat",
             {"result": "none", "days": "7"}),
        Page("搜索记录", "admin:catalog_searchquerystat_changelist", "catalog.searchquerystat"),
    ), roles={OPS: MANAGE}),
    Section("settings", "设置", (
        Page("定时任务", "admin:django_celery_beat_periodictask_changelist", "django_celery_beat.periodictask"),
        Page("Crontab 周期", "admin:django_celery_beat_crontabschedule_changelist",
             "django_celery_beat.crontabschedule"),
        Page("间隔周期", "admin:django_celery_beat_intervalschedule_changelist",
             "django_celery_beat.intervalschedule"),
        Page("指定时间", "admin:django_celery_beat_clockedschedule_changelist", "django_celery_beat.clockedschedule"),
        Page("日出日落", "admin:django_celery_beat_solarschedule_changelist", "django_celery_beat.solarschedule"),
        Page("后台用户", "admin:auth_user_changelist", "auth.user"),
        Page("角色（用户组）", "admin:auth_group_changelist", "auth.group"),
        Page("登录失败记录", "admin:axes_accessattempt_changelist", "axes.accessattempt"),
        Page("登录日志", "admin:axes_accesslog_changelist", "axes.accesslog"),
        Page("两步验证设备", "admin:config_twofactordevice_changelist", "config.twofactordevice"),
        Page("订阅消息记录", "admin:wechat_messagelog_changelist", "wechat.messagelog"),
        Page("订阅授权", "admin:wechat_subscribeconsent_changelist", "wechat.subscribeconsent"),
        # WeChat's own word on money, for reconciliation.
        Page("支付通知", "admin:payments_paymentnotification_changelist", "payments.paymentnotification",
             roles={FINANCE: VIEW}),
        Page("退款通知", "admin:shop_refundnotification_changelist", "shop.refundnotification",
             roles={FINANCE: VIEW}),
        Page("转账通知", "admin:payments_transfernotification_changelist", "payments.transfernotification",
             roles={FINANCE: VIEW}),
    )),  # technical tables: the 超级管理员's
)


def navigation_for(request: HttpRequest, counts: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """The sections `request.user` may see, each with its visible pages, their badges and which is current.

    `counts` are to-do counts the page already has (the home page's inbox); the others are
    counted here, one COUNT per badge.
    """
    user = request.user
    visible = [(section, [page for page in section.pages if page.visible_to(user)]) for section in NAVIGATION]
    visible = [(section, pages) for section, pages in visible if pages]
    counts = dict(counts or {})
    missing = {page.badge for _, pages in visible for page in pages
               if page.badge is not None and page.badge not in counts}
    counts |= todo_counts(keys=sorted(missing))
    current = _current_page(request, [page for _, pages in visible for page in pages])
    sections = []
    for section, pages in visible:
        entries: list[dict[str, Any]] = [
            {"label": page.label, "url": page.url(), "current": page is current,
             "badge": counts[page.badge] if page.badge else None}
            for page in pages
        ]
        sections.append({
            "key": section.key,
            "title": section.title,
            "current": any(page is current for page in pages),
            "pages": entries,
            # Shown on the section's title, so work waiting in a closed section is not missed.
            "todo": sum(entry["badge"] or 0 for entry in entries),
        })
    return sections


# Below a list: its add page and an object's change page. Deeper pages (a service form such as
# an order's 发货) keep the breadcrumbs their templates write, which name the object they act on.
OBJECT_PAGE = re.compile(r"(add|[^/]+/change)/")


def breadcrumbs_for(request: HttpRequest, *, title: str = "", obj: Any = None) -> list[dict[str, str]] | None:
    """The trail by job for a list, its add page or an object's page (首页 › 订单 › 全部订单 › 2026…),
    or None where the page's own breadcrumbs stand (the app index, a service form)."""
    sections = [(section, [page for page in section.pages if page.visible_to(request.user)])
                for section in NAVIGATION[1:]]
    pages = [(section, page) for section, section_pages in sections for page in section_pages]
    current = _current_page(request, [page for _, page in pages])
    if current is None:
        return None
    rest = request.path.removeprefix(reverse(current.url_name))
    if rest and not OBJECT_PAGE.fullmatch(rest):
        return None
    section = next(section for section, page in pages if page is current)
    trail = [{"label": section.title, "url": ""}, {"label": current.label, "url": current.url() if rest else ""}]
    if rest:
        trail.append({"label": str(obj) if obj is not None else title, "url": ""})
    return trail


def _current_page(request: HttpRequest, pages: list[Page]) -> Page | None:
    """The page the request is on: the longest URL path that starts the request's, and among those
    the one whose filter the request carries most fully (全部订单 vs 待发货)."""
    query = dict(parse_qsl(request.META.get("QUERY_STRING", "")))
    best: tuple[int, int] | None = None
    found = None
    for page in pages:
        path = reverse(page.url_name)
        if not request.path.startswith(path) or (path == reverse("admin:index") and request.path != path):
            continue
        if any(query.get(name) != value for name, value in page.params.items()):
            continue
        score = (len(path), len(page.params))
        if best is None or score > best:
            best, found = score, page
    return found
