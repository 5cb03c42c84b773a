"""AgentService over gRPC: request validation lives in the services; this only converts."""

from __future__ import annotations

from typing import Any

from agentmail.v1 import agent_service_pb2, agent_service_pb2_grpc

from agentmail_server.rpc import convert, wire
from agentmail_server.rpc.authorization import Gate
from agentmail_server.rpc.context import authorization
from agentmail_server.services.agents import AgentDirectory
from agentmail_server.services.contacts import ContactBook
from agentmail_server.services.tokens import TokenKeeper

Context = Any  # grpc.aio.ServicerContext; the generated base class types it loosely
_M = "/agentmail.v1.AgentService/"  # method names in the authorisation table


class AgentServicer(agent_service_pb2_grpc.AgentServiceServicer):
    """Projects and agents."""

    def __init__(
        self,
        directory: AgentDirectory,
        contacts: ContactBook,
        gate: Gate,
        tokens: TokenKeeper,
    ) -> None:
        self._directory = directory
        self._contacts = contacts
        self._gate = gate
        self._tokens = tokens

    async def EnsureProject(
        self, request: agent_service_pb2.EnsureProjectRequest, context: Context
    ) -> agent_service_pb2.EnsureProjectResponse:
        enrolling = await self._gate.enrolling(context, _M + "EnsureProject")
        project, created = await self._directory.ensure_project(
            request.human_key, enrolling.caller, enrolling.problem
        )
        return agent_service_pb2.EnsureProjectResponse(
            project=convert.project_pb(project), created=created
        )

    async def GetProject(
        self, request: agent_service_pb2.GetProjectRequest, context: Context
    ) -> agent_service_pb2.GetProjectResponse:
        caller = await self._gate.caller(context, _M + "GetProject")
        project = await self._directory.visible_project(caller, request.slug, field="slug")
        return agent_service_pb2.GetProjectResponse(project=convert.project_pb(project))

    async def ListProjects(
        self, request: agent_service_pb2.ListProjectsRequest, context: Context
    ) -> agent_service_pb2.ListProjectsResponse:
        caller = await self._gate.caller(context, _M + "ListProjects")
        projects, token = await self._directory.list_projects(
            caller, request.page_size, request.page_token
        )
        return agent_service_pb2.ListProjectsResponse(
            projects=[convert.project_pb(p) for p in projects], next_page_token=token
        )

    async def RegisterAgent(
        self, request: agent_service_pb2.RegisterAgentRequest, context: Context
    ) -> agent_service_pb2.RegisterAgentResponse:
        profile = {
            "program": request.program,
            "model": request.model,
            "task_description": request.task_description,
        }
        enrolling = await self._gate.enrolling(context, _M + "RegisterAgent")
        agent, token, created = await self._directory.register(
            request.project,
            request.name,
            profile,
            authorization(context),
            enrolling.caller,
            enrolling.problem,
        )
        return agent_service_pb2.RegisterAgentResponse(
            agent=convert.agent_pb(agent), agent_token=token, created=created
        )

    async def GetAgent(
        self, request: agent_service_pb2.GetAgentRequest, context: Context
    ) -> agent_service_pb2.GetAgentResponse:
        caller = await self._gate.caller(context, _M + "GetAgent")
        agent = await self._directory.agent(caller, request.project, request.name)
        return agent_service_pb2.GetAgentResponse(agent=convert.agent_pb(agent))

    async def ListAgents(
        self, request: agent_service_pb2.ListAgentsRequest, context: Context
    ) -> agent_service_pb2.ListAgentsResponse:
        caller = await self._gate.caller(context, _M + "ListAgents")
        agents, token = await self._directory.list_agents(
            caller,
            request.project,
            request.page_size,
            request.page_token,
            active_within_seconds=request.active_within_seconds,
            capability=request.capability,
            include_retired=request.include_retired,
        )
        return agent_service_pb2.ListAgentsResponse(
            agents=[convert.agent_pb(a) for a in agents], next_page_token=token
        )

    async def UpdateAgent(
        self, request: agent_service_pb2.UpdateAgentRequest, context: Context
    ) -> agent_service_pb2.UpdateAgentResponse:
        caller = await self._gate.agent(context, _M + "UpdateAgent")
        # The agent's times are output-only and ignored, but still must be valid timestamps.
        wire.check_request(request)
        profile = {
            "program": request.agent.program,
            "model": request.agent.model,
            "task_description": request.agent.task_description,
            "status": request.agent.status,
        }
        agent = await self._directory.update(
            caller,
            request.agent.project,
            request.agent.name,
            profile,
            list(request.update_mask.paths),
            list(request.agent.capabilities),
        )
        return agent_service_pb2.UpdateAgentResponse(agent=convert.agent_pb(agent))

    async def SetContactPolicy(
        self, request: agent_service_pb2.SetContactPolicyRequest, context: Context
    ) -> agent_service_pb2.SetContactPolicyResponse:
        caller = await self._gate.agent(context, _M + "SetContactPolicy")
        wire.check_request(request)
        agent = await self._contacts.set_policy(caller, request.policy)
        return agent_service_pb2.SetContactPolicyResponse(
            agent=convert.agent_pb(self._directory.present(agent))
        )

    async def RequestContact(
        self, request: agent_service_pb2.RequestContactRequest, context: Context
    ) -> agent_service_pb2.RequestContactResponse:
        caller = await self._gate.agent(context, _M + "RequestContact")
        outcome = await self._contacts.request(
            caller, request.to_agent, request.reason, request.ttl_seconds
        )
        return agent_service_pb2.RequestContactResponse(
            contact=convert.contact_pb(outcome.link, self._contacts.now()),
            notified=outcome.notified,
        )

    async def RespondContact(
        self, request: agent_service_pb2.RespondContactRequest, context: Context
    ) -> agent_service_pb2.RespondContactResponse:
        caller = await self._gate.agent(context, _M + "RespondContact")
        link = await self._contacts.respond(
            caller, request.from_agent, request.approve, request.ttl_seconds
        )
        return agent_service_pb2.RespondContactResponse(
            contact=convert.contact_pb(link, self._contacts.now())
        )

    async def ListContacts(
        self, request: agent_service_pb2.ListContactsRequest, context: Context
    ) -> agent_service_pb2.ListContactsResponse:
        caller = await self._gate.agent(context, _M + "ListContacts")
        page = await self._contacts.list(caller, request.page_size, request.page_token)
        return agent_service_pb2.ListContactsResponse(
            contacts=[convert.contact_pb(link, page.now) for link in page.links],
            next_page_token=page.next_page_token,
        )

    async def RetireAgent(
        self, request: agent_service_pb2.RetireAgentRequest, context: Context
    ) -> agent_service_pb2.RetireAgentResponse:
        caller = await self._gate.caller(context, _M + "RetireAgent")
        agent = await self._directory.retire(caller, request.project, request.name)
        return agent_service_pb2.RetireAgentResponse(agent=convert.agent_pb(agent))

    async def UnretireAgent(
        self, request: agent_service_pb2.UnretireAgentRequest, context: Context
    ) -> agent_service_pb2.UnretireAgentResponse:
        caller = await self._gate.caller(context, _M + "UnretireAgent")
        agent = await self._directory.unretire(caller, request.project, request.name)
        return agent_service_pb2.UnretireAgentResponse(agent=convert.agent_pb(agent))

    async def RotateToken(
        self, request: agent_service_pb2.RotateTokenRequest, context: Context
    ) -> agent_service_pb2.RotateTokenResponse:
        caller = await self._gate.agent(context, _M + "RotateToken")
        token, previous_expire = await self._tokens.rotate(caller, request.overlap_seconds)
        return agent_service_pb2.RotateTokenResponse(
            agent_token=token, previous_expire_time=convert.timestamp(previous_expire)
        )

    async def RevokeTokens(
        self, request: agent_service_pb2.RevokeTokensRequest, context: Context
    ) -> agent_service_pb2.RevokeTokensResponse:
        operator = await self._gate.operator(context, _M + "RevokeTokens")
        agent_id = await self._directory.target(operator, request.project, request.name, "")
        revoked, token = await self._tokens.revoke(agent_id, request.issue_new_token)
        return agent_service_pb2.RevokeTokensResponse(revoked=revoked, agent_token=token)
