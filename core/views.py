"""Plain Django views of the core app (not the JSON API): the private media files."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.http import require_safe

from core.media import LinkCheck, private_media_check, private_storage


def _refused(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "detail": {}}, status=status)


@require_safe
def private_media(request: HttpRequest, name: str) -> HttpResponseBase:
    """A member-owned file, for a link signed by core.media.private_media_url() and not yet expired.

    No signature, a wrong one or a name that is not there: 404, the same answer for all, so a
    guessed URL learns nothing. An intact link past its expiry: 403 media_link_expired (the
    mini-program fetches the list again for fresh links). Behind nginx with
    PRIVATE_MEDIA_ACCEL_PREFIX set, the file itself is sent by nginx (X-Accel-Redirect to an
    `internal` location); otherwise it is streamed from the storage.
    """
    link = private_media_check(name, expires=request.GET.get("expires"), signature=request.GET.get("signature"))
    if link.state is LinkCheck.INVALID:
        return _refused(404, "not_found", "未找到")
    if link.state is LinkCheck.EXPIRED:
        return _refused(403, "media_link_expired", "链接已过期，请刷新后重试")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    cache_control = f"private, max-age={link.seconds_left}"
    if settings.PRIVATE_MEDIA_ACCEL_PREFIX:
        accel = HttpResponse(content_type=content_type)
        accel["X-Accel-Redirect"] = settings.PRIVATE_MEDIA_ACCEL_PREFIX.rstrip("/") + "/" + quote(name)
        accel["Cache-Control"] = cache_control
        return accel
    storage = private_storage()
    try:
        content = storage.open(name, "rb")
    except (FileNotFoundError, IsADirectoryError, SuspiciousFileOperation):
        return _refused(404, "not_found", "未找到")
    response = FileResponse(content, content_type=content_type)
    response["Cache-Control"] = cache_control
    return response
