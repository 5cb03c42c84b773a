"""Fixtures shared by every test folder: a real server on port 0, a channel and stubs to it,
factories for projects and agents, and a reader of the rich error details every error carries.

Helpers that tests call directly (``md``, ``expect_error``) are exposed as fixtures too, so that
test folders need not import this module (several folders have a ``conftest.py``).

The git archive is off in the servers these fixtures start (``server``, ``start_server``,
``spawn_server``): its worker is a second Python process per server, and most tests are not about
it. A test about the archive, or about something it changes (its metrics families, the console
command as shipped), asks for it with ``@pytest.mark.archive`` (a module with
``pytestmark = pytest.mark.archive``); tests/archive/ has it on throughout. An explicit
``archive=`` setting or ``--archive`` flag still wins. The ``archive_on`` fixture says which
applies.

Servers the ``server`` and ``start_server`` fixtures start use the storage backend the
``backend`` fixture names: SQLite, except in the modules of ``backend_matrix.BOTH_BACKENDS``,
whose tests run once per backend (see ``backend_matrix``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import hashlib
import os
import pathlib
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import backend_matrix
import grpc
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2_grpc,
)
from google.rpc import error_details_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "agentmail.dev"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
)
Metadata = tuple[tuple[str, str], ...]


def md(token: str) -> Metadata:
    """Call metadata authenticating as the agent holding ``token``."""
    return (("authorization", f"Bearer {token}"),)


# The operator token every server these fixtures start accepts (its hash is configured through
# ``operator_token_hashes``, unless a test passes its own).
OPERATOR_TOKEN = "amop_" + "test-operator-token-0123456789abcdef"
OPERATOR_MD: Metadata = md(OPERATOR_TOKEN)


def operator_hash() -> str:
    """The SHA-256 hex digest of :data:`OPERATOR_TOKEN`, as the server stores it."""
    return hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Registered:
    """An agent registered through the API: its display name, project slug and secret token."""

    project: str
    name: str
    token: str

    @property
    def md(self) -> Metadata:
        """Call metadata authenticating as this agent."""
        return md(self.token)


@dataclasses.dataclass(frozen=True)
class RpcFailure:
    """What a failed call reported, decoded from its status and ``google.rpc`` details."""

    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    fields: list[str]
    retry_delay_seconds: float | None


def rpc_failure(err: grpc.aio.AioRpcError) -> RpcFailure:
    """Decode an error, asserting the detail shape every agentmail error must have.

    Exactly one ErrorInfo in the agentmail.dev domain with an UPPER_SNAKE reason and lowerCamel
    metadata keys; a BadRequest with field violations on INVALID_ARGUMENT; a RetryInfo on
    RESOURCE_EXHAUSTED and UNAVAILABLE.
    """
    status = rpc_status.from_call(err)
    assert status is not None, (
        f"{err.code()} {err.details()!r} carries no grpc-status-details-bin trailer"
    )
    infos: list[error_details_pb2.ErrorInfo] = []
    bad: list[error_details_pb2.BadRequest] = []
    retry: list[error_details_pb2.RetryInfo] = []
    for detail in status.details:
        for cls, bucket in (
            (error_details_pb2.ErrorInfo, infos),
            (error_details_pb2.BadRequest, bad),
            (error_details_pb2.RetryInfo, retry),
        ):
            if detail.Is(cls.DESCRIPTOR):
                unpacked = cls()
                detail.Unpack(unpacked)
                bucket.append(unpacked)  # type: ignore[arg-type]
    assert len(infos) == 1, f"expected exactly one ErrorInfo, got {status.details}"
    info = infos[0]
    assert info.domain == ERROR_DOMAIN
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", info.reason), info.reason
    for key in info.metadata:
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*", key), f"metadata key {key!r} is not lowerCamel"
    code = err.code()
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert len(bad) == 1 and bad[0].field_violations, "INVALID_ARGUMENT needs a BadRequest"
    if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
        assert len(retry) == 1, f"{code} needs a RetryInfo"
    delay = retry[0].retry_delay.ToTimedelta().total_seconds() if retry else None
    return RpcFailure(
        code=code,
        message=err.details() or "",
        reason=info.reason,
        metadata=dict(info.metadata),
        fields=[v.field for b in bad for v in b.field_violations],
        retry_delay_seconds=delay,
    )


async def expect_error(
    call: Awaitable[Any],
    code: grpc.StatusCode,
    reason: str,
    *,
    field: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> RpcFailure:
    """Await ``call``, assert it fails with ``code`` and ``reason`` (and the given violation
    field and ErrorInfo metadata entries), and return the decoded failure."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    failure = rpc_failure(caught.value)
    assert (failure.code, failure.reason) == (code, reason), failure
    if field is not None:
        assert field in failure.fields, failure
    for key, value in (metadata or {}).items():
        assert failure.metadata.get(key) == value, failure
    return failure


# The grace period of a fixture's server stopping after its test (see ``running_server``).
NO_GRACE = 0.0


@contextlib.asynccontextmanager
async def running_server(
    data_dir: pathlib.Path,
    *,
    clock: Any = None,
    stop_grace: float | None = None,
    **settings: Any,
) -> AsyncIterator[Any]:
    """A started AgentmailServer on 127.0.0.1 port 0 over ``data_dir``; stopped on exit.

    ``clock`` (a ``domain.clock.ManualClock``, say) replaces the system clock the services read.

    ``stop_grace`` overrides the configured grace period of the stop on exit. A fixture whose
    server stops only after its test has ended passes :data:`NO_GRACE` when the archive is off:
    the test has awaited its calls and closed its channels, so nothing is in flight, and a
    graceful stop would still wait the shutdown's quiet period (0.1 s) for late streams, a
    tenth of a second of every such test. Tests about shutdown stop their servers themselves,
    with the grace (tests/faults, tests/subscriptions). With the archive on, the stop keeps its
    grace, in which the archive takes the last commits.

    ``settings`` go to ServerConfig as given; the fixtures add ``archive`` (see the module doc).
    """
    from agentmail_server.app import AgentmailServer  # noqa: PLC0415 - the server may be absent
    from agentmail_server.config import ServerConfig  # noqa: PLC0415

    settings.setdefault("listen", "127.0.0.1:0")
    settings.setdefault("operator_token_hashes", operator_hash())
    config = ServerConfig(data_dir=data_dir, grace_seconds=1.0, **settings)
    server = AgentmailServer(config, clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(stop_grace)


# ``python -m agentmail_server`` logs this once it listens (at INFO and above).
LISTENING = re.compile(rb"agentmail listening on (\S+:\d+)")
PROCESS_START_SECONDS = 30
PROCESS_EXIT_SECONDS = 15


@dataclasses.dataclass
class ServerProcess:
    """A server running as its own process: the process, the address it listens on, and
    the lines of its log (stderr) read so far."""

    process: asyncio.subprocess.Process
    address: str
    log: list[bytes]


@contextlib.asynccontextmanager
async def server_process(
    data_dir: pathlib.Path, *args: str, archive: bool = True
) -> AsyncIterator[ServerProcess]:
    """``python -m agentmail_server`` on 127.0.0.1 port 0 over ``data_dir`` (plus ``args``),
    metrics off, the flood guard off (tests send many messages between one pair on purpose, as
    servers built in code do) and the archive as ``archive`` says (all by environment, so flags
    in ``args`` win); its stderr is read (so it never blocks) and it is killed on exit if
    alive."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        str(data_dir),
        "--log-level",
        "INFO",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={
            **os.environ,
            "AGENTMAIL_METRICS_LISTEN": "off",
            "AGENTMAIL_FLOOD_GUARD_PER_MINUTE": "0",
            "AGENTMAIL_ARCHIVE": "true" if archive else "false",
        },
    )
    seen: list[bytes] = []

    async def wait_for_address() -> str:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            seen.append(line)
            if match := LISTENING.search(line):
                return match.group(1).decode()
        raise AssertionError(f"server exited before listening: {b''.join(seen)!r}")

    async def drain() -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            seen.append(line)

    drainer = None
    try:
        address = await asyncio.wait_for(wait_for_address(), PROCESS_START_SECONDS)
        drainer = asyncio.create_task(drain())
        yield ServerProcess(process, address, seen)
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), PROCESS_EXIT_SECONDS)
        if drainer is not None:
            await asyncio.wait_for(drainer, PROCESS_EXIT_SECONDS)


@contextlib.asynccontextmanager
async def open_channel(address: str) -> AsyncIterator[grpc.aio.Channel]:
    """An insecure channel with 64 MiB message limits; closed on exit."""
    channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
    try:
        yield channel
    finally:
        await channel.close()


def archive_marked(node: pytest.Item) -> bool:
    """Whether ``node`` is marked ``archive`` (``archive(False)`` turns it back off)."""
    marker = node.get_closest_marker("archive")
    return marker is not None and bool(marker.args[0] if marker.args else True)


@pytest.fixture
def archive_on(request: pytest.FixtureRequest) -> bool:
    """Whether the servers this test starts keep the git archive: only if it is marked
    ``@pytest.mark.archive``."""
    return archive_marked(request.node)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of ``backend_matrix.BOTH_BACKENDS`` that start a server on each backend."""
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.definition.path.relative_to(metafunc.config.rootpath).as_posix()
    test = f"{module}::{metafunc.definition.originalname}"
    if module in backend_matrix.BOTH_BACKENDS and test not in backend_matrix.SQLITE_ONLY:
        metafunc.parametrize("backend", backend_matrix.BACKENDS)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend of the servers this test starts: "sqlite" unless parametrized."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[backend_matrix.SessionDatabase]:
    """This session's scratch PostgreSQL database (created on first use, dropped at the end)."""
    yield from backend_matrix.session_database()


@pytest.fixture
def backend_settings(
    backend: str, archive_on: bool, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """ServerConfig settings selecting ``backend``: none for SQLite; for PostgreSQL the URL of
    the session's database, emptied for this test (skips when no server listens, fails in CI):
    migrated already in the modules of ``backend_matrix.BOTH_BACKENDS``, an empty schema
    elsewhere (tests/postgres)."""
    if backend == "sqlite":
        return {}
    backend_matrix.require_postgres()
    database: backend_matrix.SessionDatabase = request.getfixturevalue("postgres_database")
    module = request.node.path.relative_to(request.config.rootpath).as_posix()
    url = database.migrated() if module in backend_matrix.BOTH_BACKENDS else database.fresh()
    return {"database_url": url, "archive": archive_on}


@pytest.fixture
async def server(
    tmp_path: pathlib.Path, archive_on: bool, backend_settings: dict[str, Any]
) -> AsyncIterator[Any]:
    """A running server over a fresh data folder (archive as ``archive_on`` says) on the
    ``backend`` the test runs on."""
    settings = {"archive": archive_on, **backend_settings}
    grace = None if settings["archive"] else NO_GRACE
    async with running_server(tmp_path / "data", stop_grace=grace, **settings) as srv:
        yield srv


@pytest.fixture
async def channel(server: Any) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to ``server``."""
    async with open_channel(server.address) as chan:
        yield chan


@pytest.fixture
def agent_stub(channel: grpc.aio.Channel) -> agent_service_pb2_grpc.AgentServiceStub:
    """AgentService on ``channel``."""
    return agent_service_pb2_grpc.AgentServiceStub(channel)


@pytest.fixture
def mail_stub(channel: grpc.aio.Channel) -> mail_service_pb2_grpc.MailServiceStub:
    """MailService on ``channel``."""
    return mail_service_pb2_grpc.MailServiceStub(channel)


async def create_project(stub: agent_service_pb2_grpc.AgentServiceStub, human_key: str) -> str:
    """Ensure the project for ``human_key`` and return its slug."""
    response = await stub.EnsureProject(agent_service_pb2.EnsureProjectRequest(human_key=human_key))
    return str(response.project.slug)


async def register_agent(
    stub: agent_service_pb2_grpc.AgentServiceStub, project: str, name: str, **profile: str
) -> Registered:
    """Register a new agent and return its display name and token."""
    response = await stub.RegisterAgent(
        agent_service_pb2.RegisterAgentRequest(project=project, name=name, **profile)
    )
    assert response.created
    return Registered(project=project, name=response.agent.name, token=response.agent_token)


@pytest.fixture
def make_project(
    agent_stub: agent_service_pb2_grpc.AgentServiceStub,
) -> Callable[[str], Awaitable[str]]:
    """Factory: ``await make_project(human_key)`` -> slug."""

    async def make(human_key: str) -> str:
        return await create_project(agent_stub, human_key)

    return make


@pytest.fixture
def register(
    agent_stub: agent_service_pb2_grpc.AgentServiceStub,
) -> Callable[..., Awaitable[Registered]]:
    """Factory: ``await register(project, name, **profile)`` -> Registered."""

    async def make(project: str, name: str, **profile: str) -> Registered:
        return await register_agent(agent_stub, project, name, **profile)

    return make


@pytest.fixture
def operator_md() -> Metadata:
    """Call metadata authenticating as the test operator."""
    return OPERATOR_MD


@pytest.fixture(name="md")
def md_fixture() -> Callable[[str], Metadata]:
    """``md(token)``: authorization metadata for a token."""
    return md


@pytest.fixture(name="expect_error")
def expect_error_fixture() -> Callable[..., Awaitable[RpcFailure]]:
    """``await expect_error(call, code, reason, field=..., metadata=...)``."""
    return expect_error


@pytest.fixture(name="start_server")
def start_server_fixture(
    archive_on: bool, backend_settings: dict[str, Any]
) -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """``async with start_server(data_dir, **settings) as server``: a server of one's own
    (archive as ``archive_on`` says unless ``settings`` has ``archive``) on the ``backend``
    the test runs on (every server of one test shares its PostgreSQL database)."""

    def start(
        data_dir: pathlib.Path, **settings: Any
    ) -> contextlib.AbstractAsyncContextManager[Any]:
        for key, value in backend_settings.items():
            settings.setdefault(key, value)
        settings.setdefault("archive", archive_on)
        return running_server(data_dir, **settings)

    return start


@pytest.fixture(name="spawn_server")
def spawn_server_fixture(
    archive_on: bool,
) -> Callable[..., contextlib.AbstractAsyncContextManager[ServerProcess]]:
    """``async with spawn_server(data_dir, *flags) as running``: a server in its own process
    (``running.process``, ``running.address``), for kill -9 and restart tests (archive as
    ``archive_on`` says unless ``flags`` has ``--archive``)."""

    def spawn(
        data_dir: pathlib.Path, *flags: str
    ) -> contextlib.AbstractAsyncContextManager[ServerProcess]:
        return server_process(data_dir, *flags, archive=archive_on)

    return spawn


@pytest.fixture
def mypy_cache_lock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Held while a test runs mypy: its cache (.mypy_cache, SQLite) does not take two runs at
    once ("database is locked"), and xdist runs test files side by side, so this run's workers
    take turns. A lock file in the run's temporary folder, which every worker shares."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    # Each worker's base folder is popen-gwN inside the run's own.
    path = tmp_path_factory.getbasetemp().parent / "mypy-cache.lock"
    with path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture(name="connect")
def connect_fixture() -> Callable[[str], contextlib.AbstractAsyncContextManager[grpc.aio.Channel]]:
    """``async with connect(address) as channel``: a channel of one's own."""
    return open_channel


@pytest.fixture(name="rpc_failure")
def rpc_failure_fixture() -> Callable[[grpc.aio.AioRpcError], RpcFailure]:
    """``rpc_failure(err)``: decode and shape-check an error's rich details."""
    return rpc_failure


# Registration order matters for broadcast; it is deliberately not alphabetical.
TEAM_NAMES = ("Alice", "Bob", "Carol", "Dave", "Erin")


@pytest.fixture
async def project(make_project: Callable[[str], Awaitable[str]]) -> str:
    """Slug of a fresh project."""
    return await make_project("/work/repos/main-project")


@pytest.fixture
async def team(
    project: str, register: Callable[..., Awaitable[Registered]]
) -> dict[str, Registered]:
    """Alice, Bob, Carol, Dave and Erin, registered in that order in ``project``."""
    return {
        name: await register(project, name, program="pytest", model="m1") for name in TEAM_NAMES
    }


@pytest.fixture
def alice(team: dict[str, Registered]) -> Registered:
    """Alice of ``team``."""
    return team["Alice"]


@pytest.fixture
def bob(team: dict[str, Registered]) -> Registered:
    """Bob of ``team``."""
    return team["Bob"]


@pytest.fixture
def carol(team: dict[str, Registered]) -> Registered:
    """Carol of ``team``."""
    return team["Carol"]


@pytest.fixture
def dave(team: dict[str, Registered]) -> Registered:
    """Dave of ``team``."""
    return team["Dave"]


@pytest.fixture
def erin(team: dict[str, Registered]) -> Registered:
    """Erin of ``team``."""
    return team["Erin"]


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """``free_port()``: a port free on 127.0.0.1 now, for a server that must come back on the
    same address after a restart."""

    def pick() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
            return port

    return pick


@pytest.fixture(name="server_on")
def server_on_fixture(
    archive_on: bool,
) -> Callable[[pathlib.Path, int], contextlib.AbstractAsyncContextManager[Any]]:
    """``async with server_on(data_dir, port) as server``: a server on a fixed port (the other
    fixtures pick port 0), so a restarted one is found at the same address; the archive as
    ``archive_on`` says."""

    def start(data_dir: pathlib.Path, port: int) -> contextlib.AbstractAsyncContextManager[Any]:
        return running_server(data_dir, listen=f"127.0.0.1:{port}", archive=archive_on)

    return start
