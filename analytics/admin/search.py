"""The console's global search page (the box in every page's header).

One hit opens that row's page; several are listed by kind; each kind is searched only for an
operator who may view its list.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from analytics.selectors.search import KINDS, console_search
from core.admin import may_view

# kind -> (heading, the model whose view permission shows it, its change page, its list)
PAGES = {
    "order": ("订单", "shop.order", "admin:shop_order_change", "admin:shop_order_changelist"),
    "after_sale": ("售后单", "shop.aftersale", "admin:shop_aftersale_change", "admin:shop_aftersale_changelist"),
    "member": ("会员", "members.member", "admin:members_member_change", "admin:members_member_changelist"),
    "product": ("商品", "catalog.product", "admin:catalog_product_change", "admin:catalog_product_changelist"),
}
LIMIT = 20


def console_search_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:64]
    kinds = [kind for kind in KINDS if may_view(request.user, PAGES[kind][1])]
    found = console_search(query=query, kinds=kinds, limit=LIMIT)
    hits = [hit for kind_hits in found.values() for hit in kind_hits]
    if len(hits) == 1:
        return HttpResponseRedirect(reverse(PAGES[hits[0].kind][2], args=[hits[0].pk]))
    groups = [
        {"title": PAGES[kind][0], "more": len(kind_hits) >= LIMIT, "list_url": reverse(PAGES[kind][3]),
         "hits": [{"title": hit.title, "detail": hit.detail, "url": reverse(PAGES[kind][2], args=[hit.pk])}
                  for hit in kind_hits]}
        for kind, kind_hits in found.items()
    ]
    context = {
        **admin.site.each_context(request),
        "title": f"搜索：{query}" if query else "搜索",
        "console_query": query,
        "groups": groups,
        "total": len(hits),
    }
    return TemplateResponse(request, "admin/console_search.html", context)
