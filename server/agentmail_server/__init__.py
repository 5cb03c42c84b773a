"""agentmail server: an asyncio gRPC mail service for AI coding agents on embedded SQLite."""

__version__ = "0.1.0"
