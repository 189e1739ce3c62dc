"""Celery tasks: thin wrappers that call a service. Safe to run twice."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from analytics.models import Funnel
from analytics.services.funnel_rollups import funnel_rollup, funnel_rollup_due, funnel_rollups_recent
from analytics.services.rollups import kpi_rollup_recent
from analytics.services.storage import events_flush, events_partitions_maintain


@shared_task(name="analytics.tasks.flush_events")
def flush_events() -> dict[str, int]:
    """Buffered events into the event table (one flusher at a time; a second run finds nothing)."""
    return asdict(events_flush())


@shared_task(name="analytics.tasks.maintain_event_partitions")
def maintain_event_partitions() -> dict[str, Any]:
    """Monthly partitions made ahead; those past the retention setting dropped."""
    return asdict(events_partitions_maintain())


@shared_task(name="analytics.tasks.rollup_kpis")
def rollup_kpis() -> list[str]:
    """Daily KPIs of yesterday, today, and any recent day that missed a run or got late events."""
    return [day.isoformat() for day in kpi_rollup_recent()]


@shared_task(name="analytics.tasks.rollup_funnels")
def rollup_funnels() -> dict[str, list[str]]:
    """Every funnel's passages of the days whose window has closed, late events, changed funnels."""
    return {name: [day.isoformat() for day in days] for name, days in funnel_rollups_recent().items()}


@shared_task(name="analytics.tasks.rollup_funnel")
def rollup_funnel(funnel_id: int) -> list[str]:
    """One funnel's due days, right after an operator saved it (its reports are quick again soon)."""
    funnel = Funnel.objects.filter(pk=funnel_id).first()
    if funnel is None:
        return []
    days = funnel_rollup_due(funnel=funnel)
    funnel_rollup(funnel=funnel, days=days)
    return [day.isoformat() for day in days]
