"""A local stand-in for WeChat's servers, speaking their wire formats over real HTTP.

Mini-program APIs (JSON), Pay v2 (signed XML under `/pay/`), Pay v3 商家转账 (signed JSON under
`/pay/v3/`, transfer_api), signed payment and transfer notifications sent back to our notify URLs,
signed message pushes (image-check verdicts) to our message URL, control endpoints for tests and
the demo (`/sandbox/…`, JSON) and a small page at `/sandbox/` to play the shopper's phone. It
plays another party, so it uses no Django: only the standard library (and `cryptography` for its
keys), with in-memory state behind one lock.

- `server.SandboxServer` — start/stop it in a thread (tests) or `manage.py wechat_sandbox`.
- `client.SandboxControl` — the Python client of the control endpoints.
- `testing.sandbox_for_settings` — start one and point the Django settings at it.
"""
