"""Pure rules of receipts: address order, how many acknowledged, overdue, and the threshold
setting's bounds."""

from __future__ import annotations

import dataclasses

import pytest
from agentmail_server.config import ServerConfig, load_config
from agentmail_server.domain.limits import MAX_ACK_OVERDUE_SECONDS
from agentmail_server.domain.models import Importance, Message, RecipientKind
from agentmail_server.domain.receipts import PendingAck, Receipt, in_address_order

TO, CC, BCC = RecipientKind.TO, RecipientKind.CC, RecipientKind.BCC
MESSAGE = Message(
    id=1,
    project_id=1,
    sender_id=1,
    sender_name="Alice",
    thread_id="1",
    subject="s",
    body=None,
    body_size=0,
    importance=Importance.NORMAL,
    ack_required=True,
    topic="",
    to=("Zed", "Bob"),
    cc=("Amy",),
    bcc=("Carl",),
    created_at=1_000,
)


def receipt(name: str, kind: RecipientKind) -> Receipt:
    return Receipt(name, kind, delivered_at=1_000, read_at=None, ack_at=None)


def test_receipts_follow_the_messages_to_cc_bcc_order_not_names() -> None:
    shuffled = [receipt("Carl", BCC), receipt("Amy", CC), receipt("Bob", TO), receipt("Zed", TO)]

    ordered = in_address_order(MESSAGE, shuffled)

    assert [r.recipient for r in ordered] == ["Zed", "Bob", "Amy", "Carl"]


def test_acknowledged_count_is_the_recipients_not_pending() -> None:
    pending = PendingAck(MESSAGE, (receipt("Bob", TO),))

    assert pending.acknowledged_count == 3


def test_a_message_is_overdue_from_the_cutoff_on() -> None:
    pending = PendingAck(MESSAGE, (receipt("Bob", TO),))

    assert pending.is_overdue(1_000) and pending.is_overdue(5_000)
    assert not pending.is_overdue(999)


def test_the_overdue_setting_defaults_to_an_hour_and_parses_from_the_environment() -> None:
    assert ServerConfig().ack_overdue_seconds == 3600
    environ = {"AGENTMAIL_ACK_OVERDUE_SECONDS": "90"}
    assert load_config([], environ=environ).ack_overdue_seconds == 90


@pytest.mark.parametrize("seconds", [0, -1, MAX_ACK_OVERDUE_SECONDS + 1])
def test_the_overdue_setting_is_bounded(seconds: int) -> None:
    with pytest.raises(ValueError, match="ack_overdue_seconds"):
        dataclasses.replace(ServerConfig(), ack_overdue_seconds=seconds)
