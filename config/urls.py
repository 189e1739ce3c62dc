from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from analytics.admin.search import console_search_view
from config.signin import two_factor_view
from core.views import private_media

urlpatterns = [
    # The header's search box on every console page; before admin.site.urls, which would take the path.
    path("admin/search/", admin.site.admin_view(console_search_view), name="console-search"),
    path("admin/two-factor/", admin.site.admin_view(two_factor_view), name="console-two-factor"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("catalog.api.urls")),
    path("api/v1/", include("members.api.urls")),
    path("api/v1/", include("shop.api.urls")),
    path("api/v1/", include("campaigns.api.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("api/v1/", include("wechat.api.urls")),
    path("api/v1/", include("analytics.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Member-owned files, for signed links only (core.media); never under MEDIA_URL.
    path("private-media/<path:name>", private_media, name="private-media"),
    # Public uploaded media (product images); production serves it from nginx or object storage instead.
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}),
]

handler404 = "core.api.handlers.not_found"
handler500 = "core.api.handlers.server_error"
