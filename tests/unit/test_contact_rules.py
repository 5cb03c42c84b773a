"""The pure contact rule: its order of precedence, first contacts, and policy names."""

from __future__ import annotations

import pytest
from agentmail_server.domain.contacts import (
    AGENT_RETIRED,
    CONTACT_BLOCKED,
    CONTACT_REQUIRED,
    ContactLink,
    ContactPolicy,
    ContactState,
    RecipientFacts,
    opens_first_contact,
    refusal,
)


def facts(policy: ContactPolicy = ContactPolicy.AUTO, **flags: bool) -> RecipientFacts:
    return RecipientFacts(is_self=flags.pop("is_self", False), retired=flags.pop("retired", False),
                          policy=policy, **flags)  # fmt: skip


def test_retirement_outranks_everything_even_oneself() -> None:
    assert refusal(facts(ContactPolicy.OPEN, retired=True, is_self=True)) == AGENT_RETIRED


@pytest.mark.parametrize("bypass", ["is_self", "in_thread", "reservation_peer"])
def test_always_allowed_outranks_a_block_and_block_all(bypass: str) -> None:
    assert refusal(facts(ContactPolicy.BLOCK_ALL, blocked_sender=True, **{bypass: True})) is None


def test_a_block_outranks_an_open_policy_and_an_approval() -> None:
    assert refusal(facts(ContactPolicy.OPEN, blocked_sender=True)) == CONTACT_BLOCKED
    assert refusal(facts(approved_link=True, blocked_sender=True)) == CONTACT_BLOCKED


def test_auto_allows_recent_mail_approvals_and_first_contacts_only() -> None:
    assert refusal(facts()) == CONTACT_REQUIRED
    assert refusal(facts(recent_exchange=True)) is None
    assert refusal(facts(approved_link=True)) is None
    assert refusal(facts(unlinked=True)) is None
    assert refusal(facts(ContactPolicy.CONTACTS_ONLY, recent_exchange=True)) == CONTACT_REQUIRED
    assert refusal(facts(ContactPolicy.CONTACTS_ONLY, unlinked=True)) == CONTACT_REQUIRED


def test_only_a_send_nothing_else_allows_opens_a_first_contact() -> None:
    assert opens_first_contact(facts(unlinked=True))
    assert not opens_first_contact(facts(unlinked=True, recent_exchange=True))
    assert not opens_first_contact(facts(ContactPolicy.OPEN, unlinked=True))
    assert not opens_first_contact(facts(unlinked=True, in_thread=True))


def test_links_lapse_at_their_expiry_but_blocks_do_not() -> None:
    link = ContactLink(1, 1, 1, "A", 2, "B", ContactState.APPROVED, "", 100, 0, 0)
    assert link.state_at(99) is ContactState.APPROVED
    assert link.state_at(100) is ContactState.EXPIRED
    blocked = ContactLink(1, 1, 1, "A", 2, "B", ContactState.BLOCKED, "", None, 0, 0)
    assert blocked.state_at(10**18) is ContactState.BLOCKED


def test_policy_names_parse_and_unknown_ones_fail() -> None:
    assert ContactPolicy.parse(" Contacts_Only ") is ContactPolicy.CONTACTS_ONLY
    with pytest.raises(ValueError, match="open, auto, contacts_only, block_all"):
        ContactPolicy.parse("friends")
