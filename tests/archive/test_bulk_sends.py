"""Every item of a SendMessages call reaches the archive as a single send would: one message
file per item (none for a failed item), each with its own subject and body."""

from __future__ import annotations

from typing import Any

from agentmail.v1 import mail_service_pb2


async def test_each_sent_item_is_archived_once_and_failed_items_not_at_all(
    team: Any, open_archive: Any, front_matter: Any
) -> None:
    items = [
        mail_service_pb2.SendMessageRequest(
            to=["Bob"] if i % 5 else ["Nobody"], subject=f"Bulk item {i}", body=f"body {i}"
        )
        for i in range(20)
    ]
    response = await team.mail.SendMessages(
        mail_service_pb2.SendMessagesRequest(messages=items), metadata=team.members["Alice"].md
    )
    sent = {
        result.sent.message.id: i
        for i, result in enumerate(response.results)
        if result.WhichOneof("outcome") == "sent"
    }
    assert len(sent) == 16
    await team.archived(max(sent))
    await team.settle()
    archive = open_archive(team.server.config.archive_path)
    files = archive.message_files(team.slug)
    assert set(files) == set(sent)
    for message_id, index in sent.items():
        fields, body = front_matter(archive.read(files[message_id]))
        assert fields["subject"] == f'"Bulk item {index}"'  # front matter quotes it
        assert body.strip() == f"body {index}"
