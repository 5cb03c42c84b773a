"""The one list of protobuf services this server offers.

Adding a service is one entry here: health checks, reflection and the per-method metrics
derive their names from this list.
"""

from __future__ import annotations

from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
    reservation_service_pb2,
    reservation_service_pb2_grpc,
    search_service_pb2,
    search_service_pb2_grpc,
)

from agentmail_server.rpc.agent_servicer import AgentServicer
from agentmail_server.rpc.authorization import Gate
from agentmail_server.rpc.mail_servicer import MailServicer
from agentmail_server.rpc.reservation_servicer import ReservationServicer
from agentmail_server.rpc.search_servicer import SearchServicer
from agentmail_server.rpc.server import ServiceBinding
from agentmail_server.services.container import Services


def service_bindings(services: Services) -> list[ServiceBinding]:
    """A servicer, its generated registration function and descriptor for every service."""
    gate = Gate(services.auth, services.enrollment)
    return [
        ServiceBinding(
            AgentServicer(services.directory, services.contacts, gate, services.tokens),
            agent_service_pb2_grpc.add_AgentServiceServicer_to_server,
            agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"],
        ),
        ServiceBinding(
            MailServicer(
                services.mailer,
                services.streamer,
                gate,
                services.auth,
                services.acks,
                bulk=services.bulk,
            ),
            mail_service_pb2_grpc.add_MailServiceServicer_to_server,
            mail_service_pb2.DESCRIPTOR.services_by_name["MailService"],
        ),
        ServiceBinding(
            SearchServicer(services.searcher, gate),
            search_service_pb2_grpc.add_SearchServiceServicer_to_server,
            search_service_pb2.DESCRIPTOR.services_by_name["SearchService"],
        ),
        ServiceBinding(
            ReservationServicer(services.reservations, gate),
            reservation_service_pb2_grpc.add_ReservationServiceServicer_to_server,
            reservation_service_pb2.DESCRIPTOR.services_by_name["ReservationService"],
        ),
    ]
