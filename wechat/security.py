"""WeChat content security: text (msgSecCheck v2, `POST wxa/msg_sec_check`) and images
(mediaCheckAsync v2, `POST wxa/media_check_async`).

    verdict = text_check(content="宝宝很喜欢", openid=member.openid, scene=Scene.COMMENT)
    verdict.suggest        # "pass" | "review" | "risky"
    verdict.label          # 100 normal, 20001 politics, 20002 porn, 20003 abuse, …
    verdict.label_text     # "正常" / "辱骂" / …

Over HTTP to `settings.WECHAT_API_BASE` like every mini-program call (the sandbox in tests and
development). v2 needs the openid of a user who used the mini-program in the last two hours
(errcode 61010 otherwise) and a scene (1 资料, 2 评论, 3 论坛, 4 社交日志).

A rejected access token (40001/42001) is refreshed once and the call retried. Every other
failure raises WechatApiError (errcode, or "NETWORK_ERROR"): what to do without a verdict is the
caller's policy, not this client's — reviews hold the text for an operator.

Images are checked asynchronously: `media_check_async()` only hands WeChat the image's URL and
gets a `trace_id`; the verdict comes later as a pushed `wxa_media_check` event
(wechat.push, wechat.media_checks).

Never call these inside a database transaction: they are network I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from wechat.errors import WechatApiError
from wechat.miniprogram import TOKEN_REJECTED_ERRCODES, _call, _token_after_rejection, get_access_token

ENDPOINT = "wxa/msg_sec_check"
MEDIA_ENDPOINT = "wxa/media_check_async"
# WeChat checks at most 2500 characters per call.
MAX_CONTENT_CHARS = 2500


class Scene(enum.IntEnum):
    PROFILE = 1  # 资料
    COMMENT = 2  # 评论
    FORUM = 3  # 论坛
    SOCIAL_LOG = 4  # 社交日志


class MediaType(enum.IntEnum):
    AUDIO = 1
    IMAGE = 2


class Suggest(enum.StrEnum):
    PASS = "pass"
    REVIEW = "review"
    RISKY = "risky"


# WeChat's result labels, in operators' words.
LABELS: dict[int, str] = {
    100: "正常",
    10001: "广告",
    20001: "时政",
    20002: "色情",
    20003: "辱骂",
    20006: "违法犯罪",
    20008: "欺诈",
    20012: "低俗",
    20013: "版权",
    21000: "其他",
}


@dataclass(frozen=True)
class TextVerdict:
    suggest: Suggest
    label: int
    trace_id: str = ""
    # The strategy that decided ("keyword", "content_model"…) and the keyword WeChat matched,
    # when it says so: shown to operators, never to the shopper.
    strategy: str = ""
    keyword: str = ""

    @property
    def label_text(self) -> str:
        return LABELS.get(self.label, str(self.label))

    def as_json(self) -> dict[str, Any]:
        return {"suggest": self.suggest.value, "label": self.label, "label_text": self.label_text,
                "trace_id": self.trace_id, "strategy": self.strategy, "keyword": self.keyword}


def text_check(*, content: str, openid: str, scene: Scene = Scene.COMMENT, title: str = "",
               nickname: str = "", signature: str = "") -> TextVerdict:
    """Ask WeChat whether `content` (written by the user `openid`) may be shown.

    Raises WechatApiError when there is no verdict (WeChat error, network, malformed answer).
    Content longer than MAX_CONTENT_CHARS is checked in parts; the worst verdict wins.
    """
    if not content:
        return TextVerdict(suggest=Suggest.PASS, label=100)
    verdicts = [
        _check_part(content[i:i + MAX_CONTENT_CHARS], openid=openid, scene=scene, title=title,
                    nickname=nickname, signature=signature)
        for i in range(0, len(content), MAX_CONTENT_CHARS)
    ]
    order = [Suggest.PASS, Suggest.REVIEW, Suggest.RISKY]
    return max(verdicts, key=lambda v: order.index(v.suggest))


def _check_part(content: str, *, openid: str, scene: Scene, title: str, nickname: str,
                signature: str) -> TextVerdict:
    body: dict[str, Any] = {"content": content, "version": 2, "scene": int(scene), "openid": openid}
    for name, value in (("title", title), ("nickname", nickname), ("signature", signature)):
        if value:
            body[name] = value
    token = get_access_token()
    try:
        result = _post(token, body)
    except WechatApiError as exc:
        if exc.errcode not in TOKEN_REJECTED_ERRCODES:
            raise
        result = _post(_token_after_rejection(token), body)
    return _verdict(result)


def _post(token: str, body: dict[str, Any]) -> dict[str, Any]:
    return _call("post", ENDPOINT, params={"access_token": token}, data=body)


def _verdict(result: dict[str, Any]) -> TextVerdict:
    verdict = result.get("result")
    if not isinstance(verdict, dict):
        raise WechatApiError("BAD_RESPONSE", "msg_sec_check returned no result")
    try:
        suggest = Suggest(str(verdict.get("suggest")))
    except ValueError as exc:
        raise WechatApiError("BAD_RESPONSE", f"msg_sec_check suggest={verdict.get('suggest')!r}") from exc
    label = verdict.get("label")
    strategy = keyword = ""
    # The detail entries that agree with the overall verdict name the strategy; a keyword hit is
    # the most useful to an operator, so it wins over the model's opinion.
    agreeing = [item for item in result.get("detail") or []
                if isinstance(item, dict) and item.get("suggest") == suggest.value and suggest != Suggest.PASS]
    agreeing.sort(key=lambda item: not item.get("keyword"))
    if agreeing:
        strategy = str(agreeing[0].get("strategy") or "")
        keyword = str(agreeing[0].get("keyword") or "")
    trace_id = result.get("trace_id")
    return TextVerdict(suggest=suggest, label=label if isinstance(label, int) else 0,
                       trace_id=trace_id if isinstance(trace_id, str) else "", strategy=strategy, keyword=keyword)


def media_check_async(*, media_url: str, openid: str, scene: Scene = Scene.COMMENT,
                      media_type: MediaType = MediaType.IMAGE) -> str:
    """Ask WeChat to check the image (or audio) at `media_url`, uploaded by the user `openid`.

    Returns WeChat's trace_id: the verdict arrives later, pushed to the message URL under it.
    WeChat downloads the file itself, so `media_url` must be absolute and reachable from the
    internet for a while (a signed link). Raises WechatApiError when WeChat does not accept the
    request (errcode, network, no trace_id).
    """
    body = {"media_url": media_url, "media_type": int(media_type), "version": 2, "scene": int(scene),
            "openid": openid}
    token = get_access_token()
    try:
        result = _call("post", MEDIA_ENDPOINT, params={"access_token": token}, data=body)
    except WechatApiError as exc:
        if exc.errcode not in TOKEN_REJECTED_ERRCODES:
            raise
        result = _call("post", MEDIA_ENDPOINT, params={"access_token": _token_after_rejection(token)}, data=body)
    trace_id = result.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id:
        raise WechatApiError("BAD_RESPONSE", "media_check_async returned no trace_id")
    return trace_id
