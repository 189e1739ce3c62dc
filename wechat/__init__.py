"""WeChat platform clients (mini-program, Pay) and the local sandbox that speaks their wire formats.

Everything here talks HTTP to the base URLs in settings (`WECHAT_API_BASE`,
`WECHAT_PAY_API_BASE`): the sandbox in development and tests, WeChat in production.
"""
