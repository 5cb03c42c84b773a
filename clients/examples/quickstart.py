"""A first agentmail session: two agents exchange a message and one acknowledges it.

Run against a running server::

    agentmail-server --listen 127.0.0.1:7070 --data-dir /tmp/agentmail &
    python clients/examples/quickstart.py 127.0.0.1:7070

Over TLS, name the CA that signed the server's certificate (and, for a server that requires
client certificates, this client's certificate and key)::

    python clients/examples/quickstart.py agentmail.example:7070 --ca ca.pem \
        --cert alice.pem --key alice-key.pem
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from agentmail_client import (
    AgentmailClient,
    AlreadyExists,
    ChannelConfig,
    Importance,
    TlsConfig,
)


async def main(target: str, human_key: str, channel: ChannelConfig | None = None) -> None:
    """Runs the example session against the server at ``target``.

    Args:
        target: Server address, such as ``127.0.0.1:7070``.
        human_key: Names the project; a repository path is typical.
        channel: Channel settings (TLS among them); the defaults when None.
    """
    async with AgentmailClient(target, channel=channel or ChannelConfig()) as client:
        ensured = await client.ensure_project(human_key)
        slug = ensured.project.slug
        print(f"project {slug!r} (created: {ensured.created})")

        # Each agent gets its own view of the shared channel; registering adopts the token.
        alice = client.with_token(None)
        bob = client.with_token(None)
        try:
            await alice.register_agent(slug, "Alice", program="quickstart", model="demo")
            await bob.register_agent(slug, "Bob", program="quickstart", model="demo")
        except AlreadyExists:
            # Tokens are shown only once, so a second run cannot act as the first run's agents.
            print(f"Alice and Bob exist already in {slug!r}: use another --project.")
            return

        sent = await alice.send_message(
            to="Bob",
            subject="Build is red",
            body="The `test_inbox` job fails on main; can you take a look?",
            importance=Importance.HIGH,
            ack_required=True,
            # Makes the send safe to retry: a repeat returns this message instead of a new one.
            idempotency_key=str(uuid.uuid4()),
        )
        print(f"Alice sent message {sent.message.id} in thread {sent.message.thread_id}")

        inbox = await bob.list_inbox(unread_only=True)
        for item in inbox:
            print(f"Bob has [{item.message.importance.value}] {item.message.subject!r}")
        states = await bob.acknowledge_message([item.message.id for item in inbox])
        for state in states:
            print(f"Bob acknowledged {state.message_id} at {state.ack_time}")

        reply = await bob.reply_message(sent.message.id, body="On it.")
        print(f"Bob replied: {reply.message.subject!r} to {', '.join(reply.message.to)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("target", help="server address, such as 127.0.0.1:7070")
    parser.add_argument(
        "--project",
        # A fresh project per run by default, so that the example can be run again.
        default=f"/srv/repos/quickstart-{uuid.uuid4().hex[:8]}",
        help="human key of the project to use (default: a new one)",
    )
    parser.add_argument("--ca", help="PEM file of the CA that signed the server's certificate")
    parser.add_argument("--cert", help="PEM file of this client's certificate (mTLS)")
    parser.add_argument("--key", help="PEM file of this client's private key (mTLS)")
    args = parser.parse_args()
    tls = None
    if args.ca or args.cert:
        tls = TlsConfig(
            root_certificates=args.ca, client_certificate=args.cert, client_key=args.key
        )
    asyncio.run(main(args.target, args.project, ChannelConfig(tls=tls)))
