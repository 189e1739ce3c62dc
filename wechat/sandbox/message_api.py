"""WeChat subscribe messages (subscribeMessage.send) as the sandbox serves them.

Exposes `ROUTES` (WeChat's own paths → handler) and `control(state, request)` for its
`/sandbox/...` control endpoints (None when the path is not one of them). Its state lives in
`state.extras["messages"]`.
"""

from __future__ import annotations

from collections.abc import Callable

from wechat.sandbox.state import SandboxState
from wechat.sandbox.web import Request, Response

ROUTES: dict[tuple[str, str], Callable[[SandboxState, Request], Response]] = {}


def control(state: SandboxState, request: Request) -> Response | None:
    return None
