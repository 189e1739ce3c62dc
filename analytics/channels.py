"""Entry channels: WeChat's entry scenes grouped for reports (DESIGN §8), and our channel codes.

A visit's channel is a channel code when it came through one of ours (the mini-program code's
`scene` carried in the launch query, or `channel_code` sent with the event): "code:<scene>".
Otherwise the group of WeChat's entry scene; the raw scene value stays in the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# group → (label, scenes)
SCENE_GROUPS: dict[str, tuple[str, frozenset[int]]] = {
    "discover": ("发现栏/下拉", frozenset({1001, 1089, 1103, 1104, 1023, 1256})),
    "share": ("好友分享", frozenset({1007, 1008, 1044, 1036, 1096})),
    "scan": ("扫码", frozenset({1011, 1012, 1013, 1047, 1048, 1049, 1025, 1031, 1032})),
    "official_account": ("公众号", frozenset({1035, 1043, 1058, 1074, 1082, 1020, 1067, 1091})),
    "search": ("搜索", frozenset({1005, 1006, 1027, 1053, 1042})),
    "mini_program": ("其他小程序", frozenset({1037, 1038})),
    "ads": ("广告", frozenset({1045, 1046, 1084, 1095})),
}
OTHER = "other"
UNKNOWN = "unknown"
CODE_PREFIX = "code:"
# The events that say how a visit began (their scene, query and utm_* properties).
ENTRY_EVENTS = ("app_launch", "app_show", "page_view")
LABELS = {**{group: label for group, (label, _) in SCENE_GROUPS.items()},
          OTHER: "其他场景", UNKNOWN: "未知"}
_GROUP_OF_SCENE = {scene: group for group, (_, scenes) in SCENE_GROUPS.items() for scene in scenes}


def scene_group(scene: Any) -> str:
    """The report group of a WeChat entry scene (an int, or its digits as a string)."""
    if isinstance(scene, str) and scene.isdigit():
        scene = int(scene)
    if not isinstance(scene, int) or isinstance(scene, bool):
        return UNKNOWN
    return _GROUP_OF_SCENE.get(scene, OTHER)


def channel_of(properties: Mapping[str, Any]) -> str | None:
    """The channel an entry event (launch, show, page view) names, or None when it names none."""
    code = properties.get("channel_code")
    query = properties.get("query")
    if not code and isinstance(query, Mapping):
        code = query.get("scene")  # getwxacodeunlimit's scene arrives as query.scene
    if isinstance(code, str) and code:
        return CODE_PREFIX + code[:32]
    if "scene" in properties:
        return scene_group(properties["scene"])
    return None


def channel_sql(properties: str) -> str:
    """SQL for channel_of() over the jsonb expression `properties`: the channel, or NULL when the
    event names none. Parameterless, so it splices into any statement."""
    code = f"({properties} -> 'channel_code')"
    query_scene = f"({properties} -> 'query' -> 'scene')"
    scene = f"({properties} -> 'scene')"
    number = (f"CASE WHEN jsonb_typeof({scene}) = 'number' AND {scene}::text ~ '^-?[0-9]+$' "
              f"THEN {scene}::text::numeric WHEN jsonb_typeof({scene}) = 'string' AND {scene} #>> '{{}}' ~ '^[0-9]+$' "
              f"THEN ({scene} #>> '{{}}')::numeric END")
    groups = " ".join(f"WHEN {value} THEN '{group}'" for group, (_, scenes) in SCENE_GROUPS.items()
                      for value in sorted(scenes))
    return (
        f"CASE WHEN jsonb_typeof({code}) = 'string' AND {code} #>> '{{}}' <> '' "
        f"THEN '{CODE_PREFIX}' || left({code} #>> '{{}}', 32) "
        f"WHEN COALESCE({code} IN ('null', 'false', '0', '\"\"', '[]', '{{}}'), true) "
        f"AND jsonb_typeof({query_scene}) = 'string' AND {query_scene} #>> '{{}}' <> '' "
        f"THEN '{CODE_PREFIX}' || left({query_scene} #>> '{{}}', 32) "
        f"WHEN {properties} ? 'scene' THEN CASE WHEN {number} IS NULL THEN '{UNKNOWN}' "
        f"ELSE CASE {number} {groups} ELSE '{OTHER}' END END "
        "END")


def channel_label(channel: str) -> str:
    if channel.startswith(CODE_PREFIX):
        return f"渠道码 {channel[len(CODE_PREFIX):]}"
    return LABELS.get(channel, channel)
