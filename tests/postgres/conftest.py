"""Tests of the PostgreSQL backend itself: every server these tests start runs on it (the
session's scratch database, see ``backend_matrix``); they skip when no PostgreSQL server
listens, and fail under CI."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    """Every server of these tests runs on PostgreSQL."""
    return "postgres"
