"""Celery: Redis when `REDIS_URL` is set, otherwise the embedded PostgreSQL as the broker."""

from __future__ import annotations

from .database import DATABASES, REDIS_URL, broker_url
from .env import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL") or REDIS_URL or broker_url(DATABASES["default"])
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "analytics.*": {"queue": "analytics"},
    "wechat.tasks.send_*": {"queue": "notifications"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Periodic jobs, upserted into django-celery-beat by `manage.py sync_periodic_tasks`; an operator's
# enabled/disabled choice survives re-syncs. "name" is a stable slug, the row's key: never change
# it (a new slug is a new job). "label" is what operators see (the row's description) and may
# change freely.
PERIODIC_TASKS = [
    {"name": "orders.cancel-expired", "label": "订单超时自动取消",
     "task": "shop.tasks.cancel_expired_orders",
     "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50},
    {"name": "orders.confirm-overdue-receipts", "label": "发货后自动确认收货",
     "task": "shop.tasks.confirm_overdue_receipts",
     "crontab": {"minute": "*/10"}, "queue": "default", "expires_seconds": 500},
]


# After-sales and refunds.
PERIODIC_TASKS += [
    {"name": "refunds.process", "label": "退款补发与查询",
     "task": "shop.tasks.process_refunds",
     "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50},
    {"name": "after-sales.purge-photo-uploads", "label": "清理未使用的售后图片",
     "task": "shop.tasks.purge_after_sale_photo_uploads",
     "crontab": {"minute": "50", "hour": "3"}, "queue": "default", "expires_seconds": 3600},
]

# Reviews: the automatic 5★ and the sweep of unattached photo uploads.
PERIODIC_TASKS += [
    {"name": "reviews.auto-positive", "label": "评价超时默认好评",
     "task": "shop.tasks.auto_positive_reviews",
     "crontab": {"minute": "17"}, "queue": "default", "expires_seconds": 3000},
    {"name": "reviews.purge-photo-uploads", "label": "清理未使用的评价图片",
     "task": "shop.tasks.purge_review_photo_uploads",
     "crontab": {"minute": "40", "hour": "3"}, "queue": "default", "expires_seconds": 3600},
]

# Privacy: a deleted member's orders anonymised once their legal retention is over.
PERIODIC_TASKS += [
    {"name": "orders.anonymise-expired", "label": "注销会员订单到期匿名化",
     "task": "shop.tasks.anonymise_expired_orders",
     "crontab": {"minute": "20", "hour": "4"}, "queue": "default", "expires_seconds": 3600},
]

# The nightly counters reconcile: products' sales counts, coupon templates' used counts and members'
# paid totals recomputed from the orders and coupons they count; drifts repaired and reported.
PERIODIC_TASKS += [
    {"name": "counters.reconcile", "label": "销量与统计数对账",
     "task": "shop.tasks.reconcile_counters",
     "crontab": {"minute": "45", "hour": "3"}, "queue": "default", "expires_seconds": 7200},
]

# Search: every product's search document rebuilt and the vocabulary recounted, repairing what a
# change outside the console (a bulk update) left stale; the console keeps it current in between.
PERIODIC_TASKS += [
    {"name": "search.rebuild", "label": "商品搜索索引重建",
     "task": "catalog.tasks.rebuild_search_index",
     "crontab": {"minute": "15", "hour": "4"}, "queue": "default", "expires_seconds": 3600},
]

# Shipping: the sweep that re-queues due WeChat shipping-info uploads (nothing is lost with a
# worker), and the tracking refresh that caches checkpoints on packages in transit.
PERIODIC_TASKS += [
    {"name": "shipping.sweep-wechat-uploads", "label": "微信发货信息补传",
     "task": "shop.tasks.sweep_shipping_uploads",
     "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50},
    {"name": "shipping.refresh-tracking", "label": "物流轨迹刷新",
     "task": "shop.tasks.refresh_tracking",
     "crontab": {"minute": "*/15"}, "queue": "default", "expires_seconds": 800},
]

PERIODIC_TASKS += [
    {"name": "messages.requeue-stale", "label": "补发滞留的订阅消息",
     "task": "wechat.tasks.requeue_stale_messages",
     "crontab": {"minute": "*/5"}, "queue": "default", "expires_seconds": 250},
]


# Campaigns: coupons and flash sales.
PERIODIC_TASKS += [
    {"name": "coupons.expire", "label": "优惠券过期处理",
     "task": "campaigns.tasks.expire_coupons",
     "crontab": {"minute": "5", "hour": "0"}, "queue": "default", "expires_seconds": 3600},
    {"name": "coupons.remind-expiring", "label": "优惠券到期提醒",
     "task": "campaigns.tasks.remind_expiring_coupons",
     "crontab": {"minute": "0", "hour": "10"}, "queue": "notifications", "expires_seconds": 3600},
    {"name": "flash-sales.create-sessions", "label": "生成明日秒杀场次",
     "task": "campaigns.tasks.create_flash_sessions",
     "crontab": {"minute": "10", "hour": "0"}, "queue": "default", "expires_seconds": 3600},
    # 砍价: launches past their deadline expire (the API already shows them expired; this frees
    # the member's one live launch of the activity).
    {"name": "bargains.expire", "label": "砍价超时处理",
     "task": "campaigns.tasks.expire_bargains",
     "crontab": {"minute": "*/5"}, "queue": "default", "expires_seconds": 240},
]

# Members: points expiry just after midnight (a spend expires a member's overdue lots itself), the
# expiry reminder in the daytime, when a subscribe message is welcome, and the nightly ledger check.
PERIODIC_TASKS += [
    {"name": "points.expire", "label": "积分过期处理",
     "task": "members.tasks.expire_points",
     "crontab": {"minute": "15", "hour": "0"}, "queue": "default", "expires_seconds": 3600},
    {"name": "points.remind-expiring", "label": "积分过期提醒",
     "task": "members.tasks.remind_expiring_points",
     "crontab": {"minute": "30", "hour": "10"}, "queue": "notifications", "expires_seconds": 3600},
    {"name": "points.reconcile", "label": "积分对账",
     "task": "members.tasks.reconcile_points",
     "crontab": {"minute": "30", "hour": "3"}, "queue": "default", "expires_seconds": 7200},
]

# Members: segments are re-evaluated every night (the console can also evaluate one at once).
PERIODIC_TASKS += [
    {"name": "segments.evaluate", "label": "会员人群每日计算",
     "task": "members.tasks.evaluate_segments",
     "crontab": {"minute": "30", "hour": "2"}, "queue": "default", "expires_seconds": 3 * 3600},
]

# Campaigns: birthday and registration-anniversary greetings (coupon, message) at 09:00; posters on first view.
PERIODIC_TASKS += [
    {"name": "greetings.send", "label": "生日与注册纪念日祝福",
     "task": "campaigns.tasks.send_greetings",
     "crontab": {"minute": "0", "hour": "9"}, "queue": "default", "expires_seconds": 6 * 3600},
]

# Paid membership cards: the monthly gift packs (daily; a missed day catches up within the month)
# and the housekeeping of unpaid card purchases.
PERIODIC_TASKS += [
    {"name": "cards.issue-gift-packs", "label": "会员卡每月礼包发放",
     "task": "campaigns.tasks.issue_card_gift_packs",
     "crontab": {"minute": "30", "hour": "8"}, "queue": "default", "expires_seconds": 3600},
    {"name": "cards.cancel-expired-purchases", "label": "购卡订单超时取消",
     "task": "members.tasks.cancel_expired_card_purchases",
     "crontab": {"minute": "*/5"}, "queue": "default", "expires_seconds": 250},
]

# Rate limits without Redis count in a database table: finished windows are deleted nightly.
PERIODIC_TASKS += [
    {"name": "rate-limits.purge", "label": "清理过期的频率限制计数",
     "task": "core.tasks.purge_rate_limit_counters",
     "crontab": {"minute": "20", "hour": "4"}, "queue": "default", "expires_seconds": 3600},
]

# Payouts (WeChat Pay 商家转账): transfers whose submission got no answer are sent again, and those
# WeChat accepted but has not finished are asked about (the safety net for a lost notify).
PERIODIC_TASKS += [
    {"name": "transfers.process", "label": "转账补发与查询",
     "task": "payments.tasks.process_transfers",
     "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50},
]

# Images members upload: checks whose submission to WeChat is due again (a transient failure's
# backoff has passed, or a lost task or a dead worker left one behind).
PERIODIC_TASKS += [
    {"name": "media-checks.sweep", "label": "图片安全检测补交",
     "task": "wechat.tasks.sweep_media_checks",
     "crontab": {"minute": "*/5"}, "queue": "default", "expires_seconds": 280},
]

# Distribution (分销): commissions become withdrawable when their after-sales window closes (hourly,
# set-based, distributors claimed with SKIP LOCKED), and distributors move up their grades nightly.
PERIODIC_TASKS += [
    {"name": "distribution.settle-commissions", "label": "分销佣金结算",
     "task": "campaigns.tasks.settle_commissions",
     "crontab": {"minute": "25"}, "queue": "default", "expires_seconds": 3000},
    {"name": "distribution.upgrade-grades", "label": "分销员等级升级",
     "task": "campaigns.tasks.upgrade_distributor_grades",
     "crontab": {"minute": "40", "hour": "4"}, "queue": "default", "expires_seconds": 3600},
]

# 拼团: groups whose time is up succeed (simulated completion) or fail, and the paid members of a
# failed group are refunded (every minute; a group is settled once, an order refunded once).
PERIODIC_TASKS += [
    {"name": "group-buys.expire", "label": "拼团到期处理",
     "task": "shop.tasks.expire_group_buys",
     "crontab": {"minute": "*"}, "queue": "default", "expires_seconds": 50},
]

# Analytics: the event buffer flushed into the partitioned table, partitions made ahead and old
# ones dropped, the daily KPI rollups (docs/analytics.md).
PERIODIC_TASKS += [
    {"name": "analytics.flush-events", "label": "埋点事件入库",
     "task": "analytics.tasks.flush_events",
     "crontab": {"minute": "*"}, "queue": "analytics", "expires_seconds": 50},
    {"name": "analytics.maintain-event-partitions", "label": "事件分区创建与过期清理",
     "task": "analytics.tasks.maintain_event_partitions",
     "crontab": {"minute": "5", "hour": "2"}, "queue": "analytics", "expires_seconds": 3600},
    # Hourly: today's figures stay fresh, and yesterday's late events are in by the morning.
    {"name": "analytics.rollup-kpis", "label": "每日指标汇总",
     "task": "analytics.tasks.rollup_kpis",
     "crontab": {"minute": "7"}, "queue": "analytics", "expires_seconds": 3000},
    # Hourly too: a funnel's day is kept as soon as its window has closed.
    {"name": "analytics.rollup-funnels", "label": "漏斗每日汇总",
     "task": "analytics.tasks.rollup_funnels",
     "crontab": {"minute": "27"}, "queue": "analytics", "expires_seconds": 3000},
]
