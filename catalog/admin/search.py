"""Search in the console: synonym groups, pinned hot words, and what shoppers searched (with the
queries that found nothing, so an operator can answer them with a synonym or a product)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from catalog.models import SearchHotWord, SearchQueryStat, SearchSynonym
from catalog.search import text
from core.admin import ReadOnlyAdminMixin

_WORD_SEPARATORS = re.compile(r"[\s,，、;；=]+")


class SearchSynonymForm(forms.ModelForm):
    words = forms.CharField(
        label="同义词", max_length=400,
        help_text="两个或以上的词，用空格、逗号或顿号分隔，例如：纸尿裤 尿不湿 尿片。"
                  "搜索其中任意一个词都会找到包含其他词的商品。",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    class Meta:
        model = SearchSynonym
        fields = ["words", "is_active", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["words"] = " ".join(self.instance.words)

    def clean_words(self) -> list[str]:
        words = list(dict.fromkeys(text.normalise(w) for w in _WORD_SEPARATORS.split(self.cleaned_data["words"])
                                   if w.strip()))
        if len(words) < 2:
            raise forms.ValidationError("请至少填写两个不同的词")
        bad = [w for w in words if len(w) > 32 or not text.is_lexeme(w)]
        if bad:
            raise forms.ValidationError(f"每个词只能由汉字、字母或数字组成，且不超过 32 个字：{'、'.join(bad)}")
        return words


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    form = SearchSynonymForm
    list_display = ["words_text", "is_active", "note", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["note"]

    @admin.display(description="同义词")
    def words_text(self, synonym: SearchSynonym) -> str:
        return " = ".join(synonym.words)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # 无结果搜索 links here with ?words=<the query>: the operator adds what it means.
        return {"words": request.GET.get("words", "")}

    def save_model(self, request: HttpRequest, obj: SearchSynonym, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # This process cuts queries with the new words at once; the others reload them within a minute.
        text.dictionary_add(obj.words)


@admin.register(SearchHotWord)
class SearchHotWordAdmin(admin.ModelAdmin):
    list_display = ["word", "sort", "is_active", "highlight"]
    list_editable = ["sort", "is_active", "highlight"]
    list_display_links = ["word"]


class ResultFilter(admin.SimpleListFilter):
    title = "搜索结果"
    parameter_name = "result"
    NONE = "none"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.NONE, "无结果")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == self.NONE:
            return queryset.filter(zero_result_searches__gt=0)
        return queryset


class RecentDaysFilter(admin.SimpleListFilter):
    title = "时间"
    parameter_name = "days"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", "今天"), ("7", "近 7 天"), ("30", "近 30 天")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in {"1", "7", "30"}:
            since = timezone.localdate() - dt.timedelta(days=int(self.value() or 1) - 1)
            return queryset.filter(day__gte=since)
        return queryset


@admin.register(SearchQueryStat)
class SearchQueryStatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """搜索记录 / 无结果搜索: per day and query, how often searched and how often nothing was found."""

    list_display = ["query", "day", "searches", "zero_result_searches", "last_result_count", "last_searched_at",
                    "actions_column"]
    list_filter = [ResultFilter, RecentDaysFilter]
    search_fields = ["query"]
    search_help_text = "按搜索词查找"
    show_full_result_count = False
    list_per_page = 100
    date_hierarchy = "day"

    @admin.display(description="处理")
    def actions_column(self, stat: SearchQueryStat) -> str:
        if stat.zero_result_searches == 0:
            return "—"
        synonym = f"{reverse('admin:catalog_searchsynonym_add')}?{urlencode({'words': stat.query})}"
        product = reverse("admin:catalog_product_add")
        return format_html('<a href="{}" class="mall-button-link">添加同义词</a> <a href="{}" class="mall-button-link">'
                           "发布商品</a>", synonym, product)
