"""Analytics' domain errors."""

from __future__ import annotations

from core.errors import DomainError


class AnalyticsUnavailable(DomainError):
    """The analytics database cannot take events now; the client keeps its batch and retries."""

    status = 503
    code = "analytics_unavailable"
    message = "数据服务暂时不可用，请稍后重试"
