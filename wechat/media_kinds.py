"""What owns a checked image: each app that stores member-uploaded images registers its kind here
(from its AppConfig.ready()), so wechat.media_checks can tell the owner about a verdict without
knowing reviews or after-sales. No models here: apps register before their models are ready."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class OnDecided(Protocol):
    def __call__(self, *, object_id: int, status: str) -> None: ...


@dataclass(frozen=True)
class MediaKind:
    """What owns a checked image.

    - `slug`: MediaCheck.kind ("review_photo"); at most 32 characters.
    - `label`: what the console calls it ("评价图片").
    - `on_decided(object_id=..., status=...)`: called inside the transaction that moved the check
      to pass, review or risky, after the check row is locked. May lock the owner's rows.
    - `console_url(object_id)`: the owner's page in the console, for the check's page.
    """

    slug: str
    label: str
    on_decided: OnDecided | None = None
    console_url: Callable[[int], str] | None = None


_KINDS: dict[str, MediaKind] = {}


def media_kind_register(kind: MediaKind) -> None:
    """Register a kind (from the owning app's AppConfig.ready()). The same kind again is a no-op;
    another kind under a taken slug raises."""
    if len(kind.slug) > 32:
        raise ValueError(f"media kind slug {kind.slug!r} is longer than MediaCheck.kind allows")
    existing = _KINDS.get(kind.slug)
    if existing is not None and existing != kind:
        raise ValueError(f"media kind {kind.slug!r} is already registered")
    _KINDS[kind.slug] = kind


def media_kind(slug: str) -> MediaKind | None:
    return _KINDS.get(slug)


def media_kind_label(slug: str) -> str:
    kind = _KINDS.get(slug)
    return kind.label if kind else slug
