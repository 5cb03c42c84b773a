"""agentmail's benchmark suite: scenarios measured beside ceilings from the same server.

Run ``python -m bench --quick`` (about a minute) or ``python -m bench`` (the full suite) from
the repository root; see ``bench/README.md``.
"""
