"""The package's public surface is exactly ``__all__``, sorted, and presented as the package's."""

import agentmail_client


def test_all_is_sorted() -> None:
    assert agentmail_client.__all__ == sorted(agentmail_client.__all__)


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {name for name in vars(agentmail_client) if not name.startswith("_")}
    assert public == set(agentmail_client.__all__)


def test_exported_classes_and_functions_claim_the_package_as_their_module() -> None:
    for name in agentmail_client.__all__:
        member = getattr(agentmail_client, name)
        if isinstance(member, type) or callable(member):
            assert member.__module__ == "agentmail_client", name


def test_search_summary_and_wait_results_are_exported() -> None:
    for name in (
        "ActionItem",
        "SearchHit",
        "SearchOrder",
        "SearchScope",
        "ThreadSummary",
        "WaitForMailResult",
    ):
        assert name in agentmail_client.__all__, name
    assert hasattr(agentmail_client.AgentmailClient, "search_messages")
    assert hasattr(agentmail_client.AgentmailClient, "summarize_thread")
    assert hasattr(agentmail_client.AgentmailClient, "wait_for_mail")
