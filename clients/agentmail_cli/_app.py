"""The ``agentmail`` Typer application: global options, the invocation they make, running calls.

Command modules register their commands on :data:`app`; ``_main.py`` imports them all. The
typed client (and with it gRPC) is imported only when a command runs, so ``--help`` and shell
completion start quickly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from ._exits import EXIT_CODES_HELP, CliError, ExitCode, from_rpc
from ._output import Output
from ._settings import ConfigError, Overrides, Profile, TokenError, read_token, resolve

if TYPE_CHECKING:
    from agentmail_client import AgentmailClient

T = TypeVar("T")

ENROLLMENT_VARIABLE = "AGENTMAIL_ENROLLMENT_SECRET"

HELP = (
    "Coordination mail for agents, from a shell: send and read mail, follow the inbox, "
    "reserve files, guard commits.\n\n"
    "Settings come from flags, then AGENTMAIL_* variables, then the profile's table in "
    "the config file (config.toml in the platform's config folder), then defaults. "
    f"A server's enrollment secret, when it has one, is read from {ENROLLMENT_VARIABLE}.\n\n"
    f"{EXIT_CODES_HELP}"
)

app = typer.Typer(
    name="agentmail",
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON (one object per line) instead of text.")
]


@dataclasses.dataclass
class Invocation:
    """What the global options say, shared by every command of one run."""

    overrides: Overrides
    as_json: bool
    timeout: float | None
    _profile: Profile | None = None

    def profile(self) -> Profile:
        """The effective profile (read once).

        Raises:
            CliError: The config file is malformed (exit 2).
        """
        if self._profile is None:
            try:
                self._profile = resolve(self.overrides)
            except ConfigError as exc:
                raise CliError(str(exc), ExitCode.USAGE, reason="CONFIG_INVALID") from None
        return self._profile

    def token(self, *, required: bool = True) -> str | None:
        """The profile's token.

        Raises:
            CliError: The token file is unsafe or unreadable, or absent while ``required``
                (exit 4).
        """
        profile = self.profile()
        try:
            token = read_token(profile.token_file)
        except TokenError as exc:
            raise CliError(str(exc), ExitCode.AUTH, reason="TOKEN_FILE_UNSAFE") from None
        if token is None and required:
            raise CliError(
                f"no token for profile {profile.name!r} (looked in {profile.token_file}): "
                "run `agentmail register NAME` first, or give --token-file",
                ExitCode.AUTH,
                reason="TOKEN_MISSING",
            )
        return token

    def need(self, value: str, what: str, flag: str) -> str:
        """``value``, or a usage error saying how to give the setting ``what``."""
        if not value:
            raise CliError(
                f"no {what} configured for profile {self.profile().name!r}: give {flag}, "
                f"AGENTMAIL_{flag.removeprefix('--').upper()} or set it in the config file",
                ExitCode.USAGE,
                reason="SETTING_MISSING",
            )
        return value

    def client(self, *, token: str | None, attempts: int | None = None) -> AgentmailClient:
        """A client of the profile's server acting with ``token``.

        Args:
            token: The agent token, or ``None`` for anonymous calls.
            attempts: Attempts per call (``None`` for the client's default retry policy).
        """
        import agentmail_client as am  # noqa: PLC0415 - see the module doc

        profile = self.profile()
        channel = am.ChannelConfig()
        if profile.uses_tls:
            try:
                tls = am.TlsConfig(
                    root_certificates=profile.tls_roots or None,
                    client_certificate=profile.tls_client_cert or None,
                    client_key=profile.tls_client_key or None,
                    server_name_override=profile.tls_server_name,
                )
                channel = am.ChannelConfig(tls=tls)
            except ValueError as exc:
                raise CliError(str(exc), ExitCode.USAGE, reason="TLS_SETTINGS_INVALID") from None
        timeouts = am.Timeouts()
        if self.timeout is not None:
            timeouts = am.Timeouts(read=self.timeout, write=self.timeout)
        retry = am.RetryPolicy() if attempts is None else am.RetryPolicy(max_attempts=attempts)
        try:
            return am.AgentmailClient(
                profile.address,
                token=token,
                timeouts=timeouts,
                retry=retry,
                channel=channel,
                # The server's own variable: the secret is one value shared by both sides, and
                # an environment variable keeps it out of argv (ps) and the config file.
                enrollment_secret=os.environ.get(ENROLLMENT_VARIABLE) or None,
            )
        except ValueError as exc:
            raise CliError(str(exc), ExitCode.USAGE, reason="TLS_SETTINGS_INVALID") from None

    def output(self, as_json: bool) -> Output:
        """The printer of a command given ``--json`` (or the global ``--json``)."""
        return Output(as_json=as_json or self.as_json)


def invocation(ctx: typer.Context) -> Invocation:
    """The invocation the global options made."""
    found = ctx.find_object(Invocation)
    assert found is not None, "the app's callback always sets it"
    return found


def run(call: Callable[[], Awaitable[T]]) -> T:
    """Runs ``call`` on a fresh event loop, turning a failed RPC into a :class:`CliError`."""
    import agentmail_client as am  # noqa: PLC0415

    async def guarded() -> T:
        try:
            return await call()
        except am.AgentmailError as exc:
            raise from_rpc(exc) from None

    return asyncio.run(guarded())


def with_client(
    ctx: typer.Context, *, token: bool = True
) -> Callable[[Callable[[AgentmailClient], Awaitable[T]]], T]:
    """``with_client(ctx)(lambda client: ...)``: runs the calls with a client, closed after."""
    inv = invocation(ctx)

    def apply(body: Callable[[AgentmailClient], Awaitable[T]]) -> T:
        secret = inv.token(required=token)

        async def call() -> T:
            async with inv.client(token=secret) as client:
                return await body(client)

        return run(call)

    return apply


def _print_version(value: bool) -> None:
    """``--version``: the installed distribution's version, as every agentmail command says it."""
    if not value:
        return
    from importlib import metadata  # noqa: PLC0415

    try:
        version = metadata.version("agentmail")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        version = "unknown"
    typer.echo(f"agentmail {version}")
    raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(envvar="AGENTMAIL_PROFILE", help="Profile of the config file to use."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(envvar="AGENTMAIL_ADDRESS", help="Server address (default: 127.0.0.1:7070)."),
    ] = None,
    project: Annotated[
        str | None, typer.Option(envvar="AGENTMAIL_PROJECT", help="Project slug.")
    ] = None,
    agent: Annotated[str | None, typer.Option(envvar="AGENTMAIL_AGENT", help="Agent name.")] = None,
    token_file: Annotated[
        str | None,
        typer.Option(
            envvar="AGENTMAIL_TOKEN_FILE",
            help="The agent's token file (0600) (default: tokens/PROFILE.token in the "
            "config folder).",
        ),
    ] = None,
    tls_roots: Annotated[
        str | None,
        typer.Option(envvar="AGENTMAIL_TLS_ROOTS", help="PEM file of the CA to trust (TLS)."),
    ] = None,
    tls_client_cert: Annotated[
        str | None,
        typer.Option(envvar="AGENTMAIL_TLS_CLIENT_CERT", help="PEM client certificate (mTLS)."),
    ] = None,
    tls_client_key: Annotated[
        str | None,
        typer.Option(envvar="AGENTMAIL_TLS_CLIENT_KEY", help="PEM key of --tls-client-cert."),
    ] = None,
    tls_server_name: Annotated[
        str | None,
        typer.Option(
            envvar="AGENTMAIL_TLS_SERVER_NAME", help="Name to check the server's certificate for."
        ),
    ] = None,
    metrics_url: Annotated[
        str | None,
        typer.Option(
            envvar="AGENTMAIL_METRICS_URL",
            help="The server's /metrics URL, for `stats` (default: http://127.0.0.1:9464/metrics).",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(envvar="AGENTMAIL_TIMEOUT", min=0.001, help="Deadline of each call, seconds."),
    ] = None,
    as_json: JsonFlag = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    del version  # handled by its callback
    ctx.obj = Invocation(
        overrides=Overrides(
            profile=profile,
            address=address,
            project=project,
            agent=agent,
            token_file=token_file,
            tls_roots=tls_roots,
            tls_client_cert=tls_client_cert,
            tls_client_key=tls_client_key,
            tls_server_name=tls_server_name,
            metrics_url=metrics_url,
        ),
        as_json=as_json,
        timeout=timeout,
    )


def subapp(name: str, help_text: str) -> typer.Typer:
    """A group of subcommands (``agentmail NAME ...``) added to :data:`app`."""
    group = typer.Typer(name=name, help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group
