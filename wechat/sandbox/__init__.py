"""A local stand-in for WeChat's servers, speaking their wire formats over real HTTP.

Mini-program APIs (JSON), Pay v2 (signed XML under `/pay/`), signed payment notifications sent
back to our notify URL, signed message pushes (image-check verdicts) to our message URL, control
endpoints for tests and the demo (`/sandbox/…`, JSON) and a small page at `/sandbox/` to play the
shopper's phone. It plays another party, so it uses no
Django: only the standard library, with in-memory state behind one lock.

- `server.SandboxServer` — start/stop it in a thread (tests) or `manage.py wechat_sandbox`.
- `client.SandboxControl` — the Python client of the control endpoints.
- `testing.sandbox_for_settings` — start one and point the Django settings at it.
"""
