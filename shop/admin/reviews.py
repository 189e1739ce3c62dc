"""Review console (评价管理): the list with filters, the pending queue, and actions through services.

发布 / 隐藏 / 精选 / 取消精选 / 发布追评 / 隐藏追评 are list actions and, one review at a time, a
choice on the review page; 商家回复 is the one editable box there. Every change goes through
shop.services.reviews (same locks, transition table and ReviewEvent audit rows as the API and
the 5★ job). Ratings, text and photos are the shopper's and never editable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import AuditTrailInline, request_operator, short_time
from core.errors import DomainError
from shop.models import Review, ReviewPhoto, ReviewStatus
from shop.models.reviews import FOLLOWUP_MACHINE, REVIEW_MACHINE, ReviewEvent
from shop.services import reviews as review_services
from shop.services.reviews import MAX_REPLY_CHARS
from wechat.admin import member_photo

STATUS_COLOURS: dict[str, str] = {
    "featured": "#c0392b",
    "photos": "#1f6fb2",
    ReviewStatus.PUBLISHED: "#2e7d32",
    ReviewStatus.PENDING: "#b26a00",
    ReviewStatus.HIDDEN: "#777",
}


def _badge(status: str, label: str) -> str:
    return format_html('<span class="mall-status" style="--mall-status:{}">{}</span>',
                       STATUS_COLOURS.get(status, "#777"), label)


def _stars(rating: int) -> str:
    colour = "#e8a317" if rating >= 4 else "#b26a00" if rating == 3 else "#c0392b"
    return format_html('<span style="color:{};letter-spacing:1px" title="{} 星">{}</span>',
                       colour, rating, "★" * rating + "☆" * (5 - rating))


def _thumbs(photos: list[ReviewPhoto], *, size: int = 40, limit: int | None = 3) -> str:
    """The photos with WeChat's image check under each; one found risky is flagged, not shown."""
    shown = photos if limit is None else photos[:limit]
    html = format_html_join(" ", "{}", ((member_photo(p.image, p.media_check, size=size),) for p in shown))
    more = len(photos) - len(shown)
    if more > 0:
        html = format_html('{} <span style="color:var(--body-quiet-color)">+{}</span>', html, more)
    return html


class ModerationQueueFilter(admin.SimpleListFilter):
    title = "审核队列"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("pending", "待审核（评价或追评）")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Review]) -> QuerySet[Review]:
        if self.value() == "pending":
            return queryset.filter(Q(status=ReviewStatus.PENDING) | Q(followup_status=ReviewStatus.PENDING))
        return queryset


class FollowupFilter(admin.SimpleListFilter):
    title = "追评"
    parameter_name = "followup"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("any", "有追评"), *[(s.value, f"追评{s.label}") for s in ReviewStatus], ("none", "无追评")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Review]) -> QuerySet[Review]:
        value = self.value()
        if value == "any":
            return queryset.exclude(followup_status="")
        if value == "none":
            return queryset.filter(followup_status="")
        if value in ReviewStatus.values:
            return queryset.filter(followup_status=value)
        return queryset


class ReviewEventInline(AuditTrailInline):
    model = ReviewEvent
    verbose_name_plural = "操作日志"


# One operation per review page save: (code, label, service call).
_OPERATIONS: dict[str, str] = {
    "publish": "发布评价",
    "hide": "隐藏评价",
    "feature": "设为精选",
    "unfeature": "取消精选",
    "publish_followup": "发布追评",
    "hide_followup": "隐藏追评",
}


def _operations_for(review: Review) -> list[tuple[str, str]]:
    """The operations that would change this review (the review's and the follow-up's machines decide)."""
    ops = []
    if REVIEW_MACHINE.can(review, ReviewStatus.PUBLISHED):
        ops.append("publish")
    if REVIEW_MACHINE.can(review, ReviewStatus.HIDDEN):
        ops.append("hide")
    if review.status == ReviewStatus.PUBLISHED:
        ops.append("unfeature" if review.is_featured else "feature")
    if FOLLOWUP_MACHINE.can(review, ReviewStatus.PUBLISHED):
        ops.append("publish_followup")
    if FOLLOWUP_MACHINE.can(review, ReviewStatus.HIDDEN):
        ops.append("hide_followup")
    return [(op, _OPERATIONS[op]) for op in ops]


class ReviewForm(forms.ModelForm):
    """Nothing of the review itself is a form field: only the operation and the reply."""

    operation = forms.ChoiceField(label="审核操作", required=False, widget=forms.RadioSelect)
    reply_text = forms.CharField(label="商家回复", required=False, max_length=MAX_REPLY_CHARS,
                                 widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
                                 help_text=f"买家在评价下方看到，最多 {MAX_REPLY_CHARS} 字；保存后记录回复时间")

    class Meta:
        model = Review
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        review = self.instance
        operation = self.fields["operation"]
        assert isinstance(operation, forms.ChoiceField)
        operation.choices = [("", "不变"), *(_operations_for(review) if review.pk else [])]
        self.fields["reply_text"].initial = review.reply

    def clean_reply_text(self) -> str:
        text = self.cleaned_data.get("reply_text", "").strip()
        if not text and self.instance.reply:
            raise forms.ValidationError("回复不能清空；如需修改，请直接填写新的回复")
        return text


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    form = ReviewForm
    # Narrow columns: the list shares the page with the nav and filter sidebars. Status, the
    # follow-up's status and the flags (精选/默认好评/有图) stack in one column.
    list_display = ["content_excerpt", "product_name", "stars", "photo_thumbs", "reviewer", "states", "created"]
    list_display_links = ["content_excerpt"]
    list_filter = [ModerationQueueFilter, "status", "rating", "has_photos", "is_auto", "is_featured",
                   FollowupFilter, ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["product", "member", "order_line__order"]
    search_fields = ["content", "followup_content", "product__name", "=order_line__order__order_no",
                     "=member__phone"]
    search_help_text = "按评价内容、商品名称、订单号或会员手机号（完整号码）搜索"
    show_full_result_count = False
    list_per_page = 30
    ordering = ["-id"]
    date_hierarchy = "created_at"
    actions = ["publish_selected", "hide_selected", "feature_selected", "unfeature_selected",
               "publish_followup_selected", "hide_followup_selected"]
    inlines = [ReviewEventInline]
    fieldsets = [
        ("评价", {"fields": ["product_link", "order_link", "reviewer_detail", "stars", "content_block",
                           "photos_block", "status_label", "flags", "moderation_text", "created_at"]}),
        ("追评", {"fields": ["followup_block", "followup_photos_block", "followup_label", "followup_at"]}),
        ("运营处理", {"fields": ["operation", "reply_text", "replied_at"]}),
    ]
    readonly_fields = ["product_link", "order_link", "reviewer_detail", "stars", "content_block", "photos_block",
                       "status_label", "flags", "moderation_text", "created_at", "followup_block",
                       "followup_photos_block", "followup_label", "followup_at", "replied_at"]

    def get_fieldsets(self, request: HttpRequest, obj: Review | None = None) -> Any:
        # The 追评 section only when there is a follow-up to read.
        if obj is not None and not obj.followup_status:
            return [(name, opts) for name, opts in self.fieldsets if name != "追评"]
        return self.fieldsets

    def get_queryset(self, request: HttpRequest) -> QuerySet[Review]:
        photos = ReviewPhoto.objects.select_related("media_check").order_by("sort", "id")
        return super().get_queryset(request).prefetch_related(Prefetch("photos", queryset=photos))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reviews come from shoppers and the 5★ job

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # hide instead: the audit trail and the rating history stay

    # --- columns ------------------------------------------------------------------------------

    @admin.display(description="商品", ordering="product__name")
    def product_name(self, review: Review) -> str:
        return review.product.name

    @admin.display(description="评分", ordering="rating")
    def stars(self, review: Review) -> str:
        return _stars(review.rating)

    @admin.display(description="内容")
    def content_excerpt(self, review: Review) -> str:
        if review.is_auto:
            text = "（系统默认好评）"
        else:
            text = review.content or "（未填写文字）"
        if len(text) > 50:
            text = text[:50] + "…"
        followup = ""
        if review.followup_status:
            followup = format_html('<div style="color:var(--body-quiet-color);margin-top:2px">追评：{}</div>',
                                   review.followup_content[:40] + ("…" if len(review.followup_content) > 40 else ""))
        reply = ""
        if review.reply:
            reply = format_html('<div style="color:#1f6fb2;margin-top:2px">已回复</div>')
        return format_html('<div style="white-space:normal;min-width:14em;max-width:22em">{}{}{}</div>',
                           text, followup, reply)

    @admin.display(description="图片")
    def photo_thumbs(self, review: Review) -> str:
        photos = list(review.photos.all())
        return _thumbs(photos, size=36) if photos else "—"

    @admin.display(description="会员", ordering="member__nickname")
    def reviewer(self, review: Review) -> str:
        name = str(review.member)
        if review.is_anonymous:
            return format_html('{} <span style="color:var(--body-quiet-color)">(匿名)</span>', name)
        return name

    @admin.display(description="状态", ordering="status")
    def status_label(self, review: Review) -> str:
        return _badge(review.status, review.get_status_display())

    @admin.display(description="追评状态", ordering="followup_status")
    def followup_label(self, review: Review) -> str:
        if not review.followup_status:
            return "—"
        return _badge(review.followup_status, review.get_followup_status_display())

    @admin.display(description="标记")
    def flags(self, review: Review) -> str:
        tags = []
        if review.is_featured:
            tags.append(("#c0392b", "精选"))
        if review.is_auto:
            tags.append(("#777", "默认好评"))
        if review.has_photos:
            tags.append(("#1f6fb2", "有图"))
        if not tags:
            return "—"
        return format_html_join(" ", '<span class="mall-status" style="--mall-status:{}">{}</span>', tags)

    @admin.display(description="状态", ordering="status")
    def states(self, review: Review) -> str:
        badges = [_badge(review.status, review.get_status_display())]
        if review.followup_status:
            badges.append(_badge(review.followup_status, f"追评{review.get_followup_status_display()}"))
        if review.is_featured:
            badges.append(_badge("featured", "精选"))
        if review.has_photos:
            badges.append(_badge("photos", "有图"))
        return format_html('<div style="display:flex;flex-wrap:wrap;gap:4px;max-width:11em">{}</div>',
                           format_html_join("", "{}", ((b,) for b in badges)))

    @admin.display(description="评价时间", ordering="created_at")
    def created(self, review: Review) -> str:
        # This year's dates without the year: the column is the narrowest that stays readable.
        local = timezone.localtime(review.created_at)
        return local.strftime("%m-%d %H:%M" if local.year == timezone.localtime().year else "%Y-%m-%d")

    # --- the review page -------------------------------------------------------------------------

    @admin.display(description="商品")
    def product_link(self, review: Review) -> str:
        url = reverse("admin:catalog_product_change", args=[review.product_id])
        line = review.order_line
        return format_html('<a href="{}">{}</a> <span style="color:var(--body-quiet-color)">{}</span>', url,
                           review.product.name, line.spec_text)

    @admin.display(description="订单")
    def order_link(self, review: Review) -> str:
        order = review.order_line.order
        url = reverse("admin:shop_order_change", args=[order.pk])
        return format_html('<a href="{}">{}</a>（收货 {}）', url, order.order_no, short_time(order.received_at))

    @admin.display(description="会员")
    def reviewer_detail(self, review: Review) -> str:
        url = reverse("admin:members_member_change", args=[review.member_id])
        note = "匿名评价（买家看到的昵称已隐藏）" if review.is_anonymous else "公开昵称"
        return format_html('<a href="{}">{}</a> · {}', url, str(review.member), note)

    @admin.display(description="内容")
    def content_block(self, review: Review) -> str:
        if review.is_auto:
            return "（收货后未评价，系统默认好评）"
        return format_html('<div style="white-space:pre-wrap;max-width:760px">{}</div>',
                           review.content or "（未填写文字）")

    @admin.display(description="图片")
    def photos_block(self, review: Review) -> str:
        photos = [p for p in review.photos.all() if not p.is_followup]
        return _thumbs(photos, size=96, limit=None) if photos else "—"

    @admin.display(description="追评内容")
    def followup_block(self, review: Review) -> str:
        if not review.followup_status:
            return "—"
        return format_html('<div style="white-space:pre-wrap;max-width:760px">{}</div>', review.followup_content)

    @admin.display(description="追评图片")
    def followup_photos_block(self, review: Review) -> str:
        photos = [p for p in review.photos.all() if p.is_followup]
        return _thumbs(photos, size=96, limit=None) if photos else "—"

    @admin.display(description="内容安全检测")
    def moderation_text(self, review: Review) -> str:
        parts = [(label, review.moderation.get(key)) for key, label in (("content", "评价"), ("followup", "追评"))]
        lines = [f"{label}：{_moderation_words(record)}" for label, record in parts if record]
        return mark_safe("<br>".join(format_html("{}", line) for line in lines)) if lines else "—"

    # --- saving: services, not model saves -----------------------------------------------------

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Django wraps this view in a transaction; the review services open their own durable
        # one (DESIGN: the service owns the transaction), so run the view without the wrapper.
        # Nothing here writes except those services.
        view = self._changeform_view  # type: ignore[attr-defined]
        return view(request, object_id, form_url, extra_context)  # type: ignore[no-any-return]

    def save_model(self, request: HttpRequest, obj: Review, form: Any, change: bool) -> None:
        operator = request_operator(request)
        try:
            reply = form.cleaned_data.get("reply_text", "")
            if reply and reply != obj.reply:
                review_services.review_reply(review_id=obj.pk, text=reply, operator=operator)
            operation = form.cleaned_data.get("operation")
            if operation:
                _OPERATION_CALLS[operation](obj.pk, operator)
        except DomainError as exc:
            messages.error(request, exc.message)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The only inline is the read-only audit trail: nothing to write, but the change message
        # reads what a save found (new/changed/deleted objects, all empty here).
        for formset in formsets:
            formset.save(commit=False)

    # --- bulk actions ---------------------------------------------------------------------------

    def _each(self, request: HttpRequest, queryset: QuerySet[Review], op: str, done: str) -> None:
        ok, failed = 0, []
        for review_id in queryset.values_list("id", flat=True):
            try:
                _OPERATION_CALLS[op](review_id, request_operator(request))
            except DomainError as exc:
                failed.append(f"#{review_id}：{exc.message}")
            else:
                ok += 1
        self.message_user(request, done.format(ok), messages.SUCCESS)
        for line in failed[:10]:
            self.message_user(request, line, messages.ERROR)
        if len(failed) > 10:
            self.message_user(request, f"另有 {len(failed) - 10} 条未处理", messages.ERROR)

    @admin.action(description="发布所选评价", permissions=["change"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._each(request, queryset, "publish", "已发布 {} 条评价")

    @admin.action(description="隐藏所选评价", permissions=["change"])
    def hide_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._each(request, queryset, "hide", "已隐藏 {} 条评价")

    @admin.action(description="设为精选", permissions=["change"])
    def feature_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._each(request, queryset, "feature", "已精选 {} 条评价")

    @admin.action(description="取消精选", permissions=["change"])
    def unfeature_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._each(request, queryset, "unfeature", "已取消精选 {} 条评价")

    @admin.action(description="发布所选追评", permissions=["change"])
    def publish_followup_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._each(request, queryset.exclude(followup_status=""), "publish_followup", "已发布 {} 条追评")

    @admin.action(description="隐藏所选追评", permissions=["change"])
    def hide_followup_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._each(request, queryset.exclude(followup_status=""), "hide_followup", "已隐藏 {} 条追评")


# Why msgSecCheck gave no verdict, in operators' words (errcode as stored, so as text).
_CHECK_ERRORS = {
    "-1": "微信系统繁忙",
    "40003": "openid 无效",
    "61010": "用户两小时内未访问小程序",
    "47001": "请求格式有误",
    "NETWORK_ERROR": "无法连接微信",
    "BAD_RESPONSE": "微信返回格式异常",
}


def _moderation_words(record: dict[str, Any]) -> str:
    suggest = record.get("suggest")
    if suggest == "error":
        errcode = record.get("errcode")
        reason = _CHECK_ERRORS.get(str(errcode), "微信返回错误")
        return f"检测失败（{reason}，{errcode}），已转人工审核"
    if record.get("skipped"):
        return "无文字，无需检测"
    words = {"pass": "通过", "review": "建议人工审核", "risky": "违规"}.get(str(suggest), str(suggest))
    detail = record.get("label_text", "")
    if record.get("keyword"):
        detail += f"，命中「{record['keyword']}」"
    return f"微信{words}（{detail}）" if detail and suggest != "pass" else f"微信{words}"


_OPERATION_CALLS: dict[str, Callable[[int, Any], Any]] = {
    "publish": lambda pk, op: review_services.review_publish(review_id=pk, operator=op),
    "hide": lambda pk, op: review_services.review_hide(review_id=pk, operator=op),
    "feature": lambda pk, op: review_services.review_set_featured(review_id=pk, featured=True, operator=op),
    "unfeature": lambda pk, op: review_services.review_set_featured(review_id=pk, featured=False, operator=op),
    "publish_followup": lambda pk, op: review_services.review_publish(review_id=pk, operator=op, followup=True),
    "hide_followup": lambda pk, op: review_services.review_hide(review_id=pk, operator=op, followup=True),
}
