"""Settings, one module per concern; `base` pulls them together.

Everything comes from the environment with safe local defaults (see README). Environments differ
only by variables, plus `config.settings.test` for the test run.
"""
