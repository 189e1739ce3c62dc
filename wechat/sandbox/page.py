"""The human page at `/sandbox/`: play the shopper's phone in the demo.

Pick or create a sandbox user and get a wx.login() code, get a phone-number code, see the
trades waiting for payment and pay one (the notification goes to our server at once), confirm
receipt of a payout (商家转账, what wx.requestMerchantTransfer does) or let it expire. Plain HTML
forms, no script, no CDN.
"""

from __future__ import annotations

import urllib.parse
from html import escape

from wechat.sandbox import payments, transfer_api
from wechat.sandbox.miniprogram_api import issue_login_code, issue_phone_code
from wechat.sandbox.payments import PaymentRefused
from wechat.sandbox.state import SandboxState as State
from wechat.sandbox.state import Trade
from wechat.sandbox.web import Request, Response, html_response, redirect

STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:60em;
color:#222;padding:0 1em}h1{color:#07c160}section{border:1px solid #ddd;border-radius:6px;padding:1em;
margin:1em 0}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.4em;
text-align:left}button{background:#07c160;color:#fff;border:0;border-radius:4px;padding:.4em 1em;
cursor:pointer}.msg{background:#f0fff4;border:1px solid #07c160;padding:.8em;border-radius:6px;
word-break:break-all}code{background:#f5f5f5;padding:0 .3em}input{padding:.3em}
"""


def handle(state: State, request: Request) -> Response | None:
    path = request.path.rstrip("/")
    if request.method == "GET" and path == "/sandbox":
        return html_response(render(state, request.query.get("msg", "")))
    if request.method != "POST" or not path.startswith("/sandbox/ui/"):
        return None
    form = {k: v[-1] for k, v in urllib.parse.parse_qs(request.body.decode("utf-8", "replace")).items()}
    action = path.removeprefix("/sandbox/ui/")
    try:
        message = _act(state, action, form)
    except PaymentRefused as exc:
        message = f"失败：{exc.message}（{exc.code}）"
    if message is None:
        return None
    return redirect("/sandbox/?" + urllib.parse.urlencode({"msg": message}))


def _act(state: State, action: str, form: dict[str, str]) -> str | None:
    if action == "login_code":
        issued = issue_login_code(state, openid=form.get("openid", "").strip() or None)
        return f"用户 {issued['openid']} 的登录 code：{issued['code']}（5 分钟内有效，只能用一次）"
    if action == "phone_code":
        phone = form.get("phone", "").strip()
        if not phone.isdigit():
            return "失败：请输入手机号"
        issued = issue_phone_code(state, phone=phone)
        return f"手机号 {phone} 的 code：{issued['code']}"
    if action in ("pay", "notify"):
        no = form.get("out_trade_no", "")
        paid = payments.pay(state, no) if action == "pay" else {**payments.notify(state, no), **_paid(state, no)}
        answers = "；".join(
            f"HTTP {d['status']} {'已确认' if d['acknowledged'] else '未确认'}"
            if d["status"]
            else f"发送失败（{d['error']}）"
            for d in paid["deliveries"]
        )
        return f"订单 {paid['out_trade_no']} 已支付（微信支付单号 {paid['transaction_id']}），通知结果：{answers}"
    if action in ("transfer_confirm", "transfer_expire"):
        no = form.get("out_bill_no", "")
        done = (transfer_api.confirm(state, no) if action == "transfer_confirm"
                else transfer_api.expire(state, no))
        answers = "；".join(f"HTTP {d['status']}" if d["status"] else f"发送失败（{d['error']}）"
                           for d in done["deliveries"])
        verb = "已确认收款" if action == "transfer_confirm" else "超时未确认，已撤销"
        return f"转账 {no} {verb}，通知结果：{answers or '无通知地址'}"
    return None


def render(state: State, message: str) -> str:
    with state.lock:
        users = list(state.users.values())
        trades = sorted(state.trades.values(), key=lambda t: t.created_at, reverse=True)
    user_rows = (
        "".join(
            f"<tr><td><code>{escape(u.openid)}</code></td>"
            f"<td>{_form('login_code', 'openid', u.openid, '获取登录 code')}</td></tr>"
            for u in users
        )
        or '<tr><td colspan="2">还没有用户</td></tr>'
    )
    pending = [t for t in trades if t.state == "NOTPAY"]
    trade_rows = (
        "".join(
            f"<tr><td><code>{escape(t.out_trade_no)}</code></td><td>{escape(t.body)}</td>"
            f"<td>¥{t.total_fee // 100}.{t.total_fee % 100:02d}</td><td><code>{escape(t.openid)}</code></td>"
            f"<td>{_form('pay', 'out_trade_no', t.out_trade_no, '支付')}</td></tr>"
            for t in pending
        )
        or '<tr><td colspan="5">没有待支付的订单</td></tr>'
    )
    done_rows = (
        "".join(
            f"<tr><td><code>{escape(t.out_trade_no)}</code></td><td>{escape(t.body)}</td>"
            f"<td>{'已支付' if t.state == 'SUCCESS' else '已关闭'}</td>"
            f"<td>{escape(t.transaction_id)}</td><td>{_delivery_summary(t)}</td></tr>"
            for t in trades
            if t.state != "NOTPAY"
        )
        or '<tr><td colspan="5">暂无</td></tr>'
    )
    with state.lock:
        waiting = [b for b in transfer_api.book(state).bills.values() if b.state == "WAIT_USER_CONFIRM"]
    transfer_rows = (
        "".join(
            f"<tr><td><code>{escape(b.out_bill_no)}</code></td><td>{escape(b.transfer_remark)}</td>"
            f"<td>¥{b.transfer_amount // 100}.{b.transfer_amount % 100:02d}</td>"
            f"<td><code>{escape(b.openid)}</code></td>"
            f"<td>{_form('transfer_confirm', 'out_bill_no', b.out_bill_no, '确认收款')}"
            f"{_form('transfer_expire', 'out_bill_no', b.out_bill_no, '超时未确认')}</td></tr>"
            for b in waiting
        )
        or '<tr><td colspan="5">没有待确认收款的转账</td></tr>'
    )
    msg = f'<p class="msg">{escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>微信沙箱</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><h1>微信沙箱</h1>
<p>本地模拟微信服务器：小程序登录、手机号、微信支付及支付结果通知。
商户号 <code>{escape(state.mch_id)}</code>，
AppID <code>{escape(state.app_id)}</code>。</p>
<p><a href="/sandbox/shop/">打开手机商城（H5 商城，只用公开的 API）</a></p>{msg}
<section><h2>小程序用户</h2>
<form method="post" action="/sandbox/ui/login_code"><button>新建用户并获取登录 code</button></form>
<table><tr><th>openid</th><th></th></tr>{user_rows}</table></section>
<section><h2>手机号授权</h2><form method="post" action="/sandbox/ui/phone_code">
<input name="phone" placeholder="手机号，如 13800138000" inputmode="numeric"> <button>获取手机号 code</button>
</form></section>
<section><h2>待支付订单</h2>
<table><tr><th>商户订单号</th><th>商品</th><th>金额</th><th>付款人</th><th></th></tr>{trade_rows}</table></section>
<section><h2>商家转账：待用户确认收款</h2>
<table><tr><th>商户单号</th><th>备注</th><th>金额</th><th>收款人</th><th></th></tr>{transfer_rows}</table></section>
<section><h2>已支付 / 已关闭</h2>
<table><tr><th>商户订单号</th><th>商品</th><th>状态</th><th>微信支付单号</th><th>通知</th></tr>{done_rows}</table>
</section></body></html>"""


def _form(action: str, name: str, value: str, label: str) -> str:
    return (
        f'<form method="post" action="/sandbox/ui/{action}" style="margin:0">'
        f'<input type="hidden" name="{name}" value="{escape(value)}"><button>{label}</button></form>'
    )


def _delivery_summary(trade: Trade) -> str:
    acked = sum(1 for d in trade.deliveries if d.acknowledged)
    summary = f"{len(trade.deliveries)} 次，{acked} 次已确认" if trade.deliveries else "未发送"
    if trade.state == "SUCCESS" and not acked:
        # Our server was down or refused: let the demo re-send, as WeChat's retries would.
        summary += " " + _form("notify", "out_trade_no", trade.out_trade_no, "重发通知")
    return summary


def _paid(state: State, out_trade_no: str) -> dict[str, str]:
    with state.lock:
        trade = state.trades[out_trade_no]
        return {"out_trade_no": trade.out_trade_no, "transaction_id": trade.transaction_id}
