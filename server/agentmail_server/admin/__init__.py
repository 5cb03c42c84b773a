"""Operator commands (``agentmail-admin``): backup and restore, retention, and the archive and
metrics tools. They run as their own processes beside (or instead of) a server."""
