"""Command handlers by concern; each registers itself with `decision.handles`.

`engine` imports every module here so the registry is complete before the first `decide`.
A new command: its class in `commands.py`, a handler with `@handles(...)` in the module of its
concern here (a new module is imported in `engine.py`), its candidates in `legal.py`.
"""
