"""WeChat mini-program, Pay v2 and Pay v3 (payouts). Base URLs point at the sandbox unless set to
WeChat's.

Every base URL ends in one "/" whatever the variable says (env.base_url).
"""

from __future__ import annotations

from .env import base_url, env, env_int

# The local sandbox's credentials, the defaults below. They are published in this repository:
# production refuses them (config/checks.py), and the Pay key with a host other than the sandbox
# is refused everywhere, since anyone could sign a payment notification with it.
WECHAT_SANDBOX_CREDENTIALS = {
    "WECHAT_APP_ID": "wxsandbox0000000001",
    "WECHAT_APP_SECRET": "sandbox-app-secret",
    "WECHAT_MCH_ID": "1900000001",
    "WECHAT_PAY_API_KEY": "sandboxpaykey0000000000000000001",  # 32 chars, as WeChat's
    "WECHAT_PAY_APIV3_KEY": "sandboxapiv3key00000000000000001",  # 32 chars, as WeChat's
    "WECHAT_PAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0119000000012025010100000001",
    "WECHAT_MESSAGE_TOKEN": "sandboxmessagetoken0001",
}
WECHAT_APP_ID = env("WECHAT_APP_ID", WECHAT_SANDBOX_CREDENTIALS["WECHAT_APP_ID"])
WECHAT_APP_SECRET = env("WECHAT_APP_SECRET", WECHAT_SANDBOX_CREDENTIALS["WECHAT_APP_SECRET"])
WECHAT_MCH_ID = env("WECHAT_MCH_ID", WECHAT_SANDBOX_CREDENTIALS["WECHAT_MCH_ID"])
WECHAT_PAY_API_KEY = env("WECHAT_PAY_API_KEY", WECHAT_SANDBOX_CREDENTIALS["WECHAT_PAY_API_KEY"])
# The message push (消息推送) to our /api/v1/wechat/messages, as configured in the mini-program admin
# (开发 → 开发管理 → 开发设置 → 消息推送): its Token signs every push; its EncodingAESKey (43 characters),
# when set, means safe mode: pushes arrive encrypted and plain ones are refused (wechat.push).
WECHAT_MESSAGE_TOKEN = env("WECHAT_MESSAGE_TOKEN", WECHAT_SANDBOX_CREDENTIALS["WECHAT_MESSAGE_TOKEN"])
WECHAT_MESSAGE_AES_KEY = env("WECHAT_MESSAGE_AES_KEY", "")
WECHAT_PAY_MCH_CERT = env("WECHAT_PAY_MCH_CERT")  # client certificate (refunds)
WECHAT_PAY_MCH_KEY = env("WECHAT_PAY_MCH_KEY")
WECHAT_SANDBOX_PORT = env_int("WECHAT_SANDBOX_PORT", 8900)
WECHAT_API_BASE = base_url("WECHAT_API_BASE", f"http://127.0.0.1:{WECHAT_SANDBOX_PORT}/")
# Which version of the mini-program the codes from getwxacodeunlimit open: release | trial | develop.
WECHAT_WXACODE_ENV_VERSION = env("WECHAT_WXACODE_ENV_VERSION", "release")
WECHAT_PAY_API_BASE = base_url("WECHAT_PAY_API_BASE", f"http://127.0.0.1:{WECHAT_SANDBOX_PORT}/pay/")
WECHAT_HTTP_TIMEOUT = env_int("WECHAT_HTTP_TIMEOUT", 10)

# Images members upload are checked by WeChat (mediaCheckAsync, wechat.media_checks): a submission
# that fails for a transient reason is retried after base × 2^(n-1) seconds, at most this many
# attempts in all; then an operator decides.
WECHAT_MEDIA_CHECK_MAX_ATTEMPTS = env_int("WECHAT_MEDIA_CHECK_MAX_ATTEMPTS", 5)
WECHAT_MEDIA_CHECK_RETRY_BASE_SECONDS = env_int("WECHAT_MEDIA_CHECK_RETRY_BASE_SECONDS", 30)

# Subscribe messages (订阅消息). Each template: the id WeChat gave it in the mini-program admin
# (公众平台 → 订阅消息 → 我的模板), the page opened from the card ({name} is filled from the
# message's values), and which of our values goes in each of WeChat's keys. A key's prefix
# (thing, amount, time, phrase…) is WeChat's type for it and decides how the value is cut to
# WeChat's limits. Ids come from the environment; the defaults are the sandbox's.
WECHAT_SUBSCRIBE_TEMPLATES = {
    "order_paid": {
        "id": env("WECHAT_TEMPLATE_ORDER_PAID", "sandbox-tmpl-order-paid"),
        "title": "订单支付成功通知",
        "page": "pages/order/detail?order_no={order_no}",
        "fields": {"character_string1": "order_no", "amount2": "amount", "thing3": "goods",
                   "time4": "paid_at"},
    },
    "order_shipped": {
        "id": env("WECHAT_TEMPLATE_ORDER_SHIPPED", "sandbox-tmpl-order-shipped"),
        "title": "订单发货提醒",
        "page": "pages/order/detail?order_no={order_no}",
        "fields": {"character_string1": "order_no", "thing2": "goods", "thing3": "carrier",
                   "character_string4": "tracking_no", "time5": "shipped_at"},
    },
    "after_sale_progress": {
        "id": env("WECHAT_TEMPLATE_AFTER_SALE_PROGRESS", "sandbox-tmpl-after-sale-progress"),
        "title": "售后进度通知",
        "page": "pages/aftersale/detail?after_sale_no={after_sale_no}",
        "fields": {"character_string1": "after_sale_no", "phrase2": "status", "amount3": "amount",
                   "thing4": "remark", "time5": "updated_at"},
    },
    # Ready for the member and campaign issues: the jobs that send them only build the values.
    "birthday": {
        "id": env("WECHAT_TEMPLATE_BIRTHDAY", "sandbox-tmpl-birthday"),
        "title": "生日祝福提醒",
        "page": "pages/member/index",
        "fields": {"thing1": "greeting", "thing2": "gift", "date3": "valid_until", "thing4": "remark"},
    },
    "group_buy_result": {
        "id": env("WECHAT_TEMPLATE_GROUP_BUY_RESULT", "sandbox-tmpl-group-buy-result"),
        "title": "拼团结果通知",
        "page": "pages/group/detail?group_no={group_no}",
        "fields": {"thing1": "goods", "phrase2": "result", "amount3": "amount", "thing4": "remark"},
    },
    "points_expiring": {
        "id": env("WECHAT_TEMPLATE_POINTS_EXPIRING", "sandbox-tmpl-points-expiring"),
        "title": "积分过期提醒",
        "page": "pages/points/index",
        "fields": {"number1": "points", "date2": "expires_on", "thing3": "remark"},
    },
    "coupon_expiring": {
        "id": env("WECHAT_TEMPLATE_COUPON_EXPIRING", "sandbox-tmpl-coupon-expiring"),
        "title": "优惠券过期提醒",
        "page": "pages/coupon/index",
        "fields": {"thing1": "coupon", "date2": "expires_on", "thing3": "remark"},
    },
    "distributor_review": {
        "id": env("WECHAT_TEMPLATE_DISTRIBUTOR_REVIEW", "sandbox-tmpl-distributor-review"),
        "title": "分销员审核结果通知",
        "page": "pages/distribution/index",
        "fields": {"phrase1": "result", "thing2": "remark", "time3": "decided_at"},
    },
}
# Which version of the mini-program a card opens: formal (正式版), trial (体验版), developer.
WECHAT_SUBSCRIBE_MINIPROGRAM_STATE = env("WECHAT_SUBSCRIBE_MINIPROGRAM_STATE", "formal")
# Transient failures (system busy, network) retry with exponential backoff: base × 2^(n-1)
# seconds before attempt n+1, at most this many attempts in all.
WECHAT_SUBSCRIBE_MAX_ATTEMPTS = env_int("WECHAT_SUBSCRIBE_MAX_ATTEMPTS", 5)
WECHAT_SUBSCRIBE_RETRY_BASE_SECONDS = env_int("WECHAT_SUBSCRIBE_RETRY_BASE_SECONDS", 30)

# Refunds: WeChat Pay's certificate-only API (secapi/pay/refund) over mutual TLS with the merchant
# certificate (WECHAT_PAY_MCH_CERT / _KEY, PEM files from the WeChat Pay console). In production
# the secure base is WeChat's host too and the CA bundle is the system's (""). Locally the sandbox
# serves it on the port after its own and issues a CA and merchant certificate under var/, which
# the defaults below point at.
from .env import VAR_DIR  # noqa: E402

WECHAT_SANDBOX_CERT_DIR = env("WECHAT_SANDBOX_CERT_DIR", str(VAR_DIR / "wechat-sandbox"))
WECHAT_PAY_SECURE_API_BASE = base_url("WECHAT_PAY_SECURE_API_BASE",
                                      f"https://127.0.0.1:{WECHAT_SANDBOX_PORT + 1}/pay/")
_PAY_IS_LOCAL_SANDBOX = WECHAT_PAY_SECURE_API_BASE.startswith("https://127.0.0.1:")
WECHAT_PAY_CA_BUNDLE = env("WECHAT_PAY_CA_BUNDLE",
                           f"{WECHAT_SANDBOX_CERT_DIR}/ca.pem" if _PAY_IS_LOCAL_SANDBOX else "")
if _PAY_IS_LOCAL_SANDBOX and not WECHAT_PAY_MCH_CERT:
    WECHAT_PAY_MCH_CERT = f"{WECHAT_SANDBOX_CERT_DIR}/apiclient_cert.pem"
    WECHAT_PAY_MCH_KEY = f"{WECHAT_SANDBOX_CERT_DIR}/apiclient_key.pem"
# A refund whose outcome is unknown (network, SYSTEMERROR) is sent again by the refund job after
# this long, at most this many times in all before it shows as failed; a refund WeChat accepted
# but has not notified about is asked after (refundquery).
REFUND_RESUBMIT_AFTER_SECONDS = env_int("REFUND_RESUBMIT_AFTER_SECONDS", 60)
REFUND_MAX_AUTO_ATTEMPTS = env_int("REFUND_MAX_AUTO_ATTEMPTS", 5)
REFUND_QUERY_AFTER_MINUTES = env_int("REFUND_QUERY_AFTER_MINUTES", 15)

# Pay v3: payouts through 商家转账 (wechat.pay_v3), on the same host as WECHAT_PAY_API_BASE. Requests
# are signed with the merchant API certificate's key (WECHAT_PAY_MCH_KEY, the apiclient_key.pem that
# refunds present over TLS too) under its serial number (WECHAT_PAY_MCH_CERT_SERIAL; read from
# WECHAT_PAY_MCH_CERT when unset). WeChat Pay's answers and notifies are verified with WeChat Pay's
# public key (WECHAT_PAY_PUBLIC_KEY: pub_key.pem from 商户平台 → 账户中心 → API安全 → 微信支付公钥)
# and its id; notifies are decrypted with the APIv3 key. Locally the sandbox generates that key pair
# under its certificate directory and the defaults point at it.
WECHAT_PAY_APIV3_KEY = env("WECHAT_PAY_APIV3_KEY", WECHAT_SANDBOX_CREDENTIALS["WECHAT_PAY_APIV3_KEY"])
WECHAT_PAY_MCH_CERT_SERIAL = env("WECHAT_PAY_MCH_CERT_SERIAL")
WECHAT_PAY_PUBLIC_KEY_ID = env("WECHAT_PAY_PUBLIC_KEY_ID", WECHAT_SANDBOX_CREDENTIALS["WECHAT_PAY_PUBLIC_KEY_ID"])
WECHAT_PAY_PUBLIC_KEY = env("WECHAT_PAY_PUBLIC_KEY")
if not WECHAT_PAY_PUBLIC_KEY and WECHAT_PAY_API_BASE.startswith("http://127.0.0.1:"):
    WECHAT_PAY_PUBLIC_KEY = f"{WECHAT_SANDBOX_CERT_DIR}/wechatpay_public_key.pem"
# The transfer scene the merchant holds (商户平台 → 产品中心 → 商家转账): 1005 is 佣金报酬. Its report
# (transfer_scene_report_infos) is 岗位类型 (this setting) and 报酬说明 (the transfer's remark); the
# member sees the perception (用户收款感知) on the confirmation page.
WECHAT_TRANSFER_SCENE_ID = env("WECHAT_TRANSFER_SCENE_ID", "1005")
WECHAT_TRANSFER_POST_TYPE = env("WECHAT_TRANSFER_POST_TYPE", "推广员")
WECHAT_TRANSFER_RECV_PERCEPTION = env("WECHAT_TRANSFER_RECV_PERCEPTION", "劳务报酬")
# A transfer whose submission got no answer is sent again (same out_bill_no) by the sweep after this
# long; one WeChat accepted but has not finished is asked about (query) this often.
TRANSFER_RESUBMIT_AFTER_SECONDS = env_int("TRANSFER_RESUBMIT_AFTER_SECONDS", 60)
TRANSFER_QUERY_AFTER_MINUTES = env_int("TRANSFER_QUERY_AFTER_MINUTES", 10)
