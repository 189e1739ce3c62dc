"""Subscribe messages (订阅消息): templates, WeChat's field limits, consents and sending.

    subscribe_consent_record(member_id=…, openid=…, results={template_id: "accept", …})
    subscribe_credits_for_member(member_id=…)         -> [TemplateCredits(key, template_id, title, credits, …)]
    subscribe_message_queue(member_id=…, openid=…, template_key="order_paid", values={…}, reference=…)
    subscribe_message_send(log_id=…)                  -> SendResult (what wechat.tasks runs)

Templates are configured in settings.WECHAT_SUBSCRIBE_TEMPLATES; see templates.py, fields.py
(one formatter per WeChat key type), consents.py and sending.py.
"""

from wechat.messages.consents import TemplateCredits, subscribe_consent_record, subscribe_credits_for_member
from wechat.messages.fields import FieldFormatError, Suffixed, format_value
from wechat.messages.sending import (
    SendResult,
    subscribe_message_queue,
    subscribe_message_requeue_stale,
    subscribe_message_send,
)
from wechat.messages.templates import Template, UnknownTemplate, render, template_get, template_title, templates

__all__ = [
    "FieldFormatError",
    "SendResult",
    "Suffixed",
    "Template",
    "TemplateCredits",
    "UnknownTemplate",
    "format_value",
    "render",
    "subscribe_consent_record",
    "subscribe_credits_for_member",
    "subscribe_message_queue",
    "subscribe_message_requeue_stale",
    "subscribe_message_send",
    "template_get",
    "template_title",
    "templates",
]
