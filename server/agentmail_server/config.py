"""Server configuration: one immutable value object built from flags, environment and a TOML
config file.

Every setting is declared once in ``SETTINGS`` with its default and help text; the command-line
parser, the environment reader and the config file's keys are all generated from that table, and
a test checks that the README documents each one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from agentmail_server.config_file import REDACTED_KEYS, read_config_file
from agentmail_server.domain.limits import MAX_ACK_OVERDUE_SECONDS
from agentmail_server.listen import is_loopback

SyncMode = Literal["full", "normal"]
ContactPolicyName = Literal["open", "auto", "contacts_only", "block_all"]
# The levels --log-level accepts (case-insensitive).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (the schemes libpq accepts)."""
    return url.startswith(("postgresql://", "postgres://"))


@dataclasses.dataclass(frozen=True)
class Setting:
    """One configurable value: its field name, environment variable, default and meaning."""

    field: str
    default: str
    help: str

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return "AGENTMAIL_" + self.field.upper()

    @property
    def flag(self) -> str:
        """The command-line flag that sets it."""
        return "--" + self.field.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "listen",
        "127.0.0.1:7070",
        "gRPC listen address (host:port, port 0 picks a free one; or unix:PATH). An address "
        "other hosts can reach needs TLS or --insecure.",
    ),
    Setting(
        "tls_cert",
        "",
        "PEM file of the server's certificate chain; with --tls-key, serve TLS. Re-read when "
        "it changes, without a restart.",
    ),
    Setting("tls_key", "", "PEM file of the private key of --tls-cert (re-read with it)."),
    Setting(
        "tls_client_ca",
        "",
        "PEM file of the CA certificates client certificates must chain to: every client must "
        "then present one (mTLS). Needs --tls-cert.",
    ),
    Setting(
        "insecure",
        "false",
        "Serve plaintext on an address other hosts can reach (refused otherwise), with a "
        "warning; loopback and unix: addresses never need it.",
    ),
    Setting(
        "metrics_listen",
        "127.0.0.1:9464",
        "Prometheus /metrics address (host:port; port 0 picks a free one; 'off' disables).",
    ),
    Setting(
        "data_dir", "./agentmail-data", "Folder holding the SQLite database (created if absent)."
    ),
    Setting(
        "database_url",
        "",
        "PostgreSQL database to store everything in (postgresql://user@host:port/dbname); "
        "empty keeps the embedded SQLite database in the data folder. "
        "Never printed or logged (it may hold a password).",
    ),
    Setting(
        "workers",
        "1",
        "Serving processes sharing --listen's port (SO_REUSEPORT); more than 1 needs "
        "--database-url. Worker i serves metrics on --metrics-listen's port + i (port 0: each "
        "picks a free one).",
    ),
    Setting("grace_seconds", "5", "How long shutdown waits for in-flight calls before cancelling."),
    Setting("read_pool_size", "4", "Read-only SQLite connections serving queries."),
    Setting(
        "writer_queue_size",
        "10000",
        "Writes waiting for the single writer; when full, writes fail fast "
        "with RESOURCE_EXHAUSTED.",
    ),
    Setting("writer_max_batch", "512", "Most writes committed together in one transaction."),
    Setting(
        "sqlite_synchronous",
        "full",
        "SQLite synchronous mode: 'full' fsyncs every commit (durable across power loss), "
        "'normal' survives process crashes only.",
    ),
    Setting("max_receive_bytes", "8388608", "Largest request the server accepts, in bytes."),
    Setting("max_send_bytes", "67108864", "Largest response the server sends, in bytes."),
    Setting(
        "search_index_idle_seconds",
        "0.02",
        "How long the writer must be idle before it indexes new mail for search; sooner when "
        "256 messages wait or a search asks (a search always sees mail sent before it).",
    ),
    Setting(
        "max_sends_per_call",
        "500",
        "Most messages one SendMessages call may carry; more fail with INVALID_ARGUMENT "
        "TOO_MANY_SENDS.",
    ),
    Setting(
        "subscriber_buffer",
        "256",
        "Live notifications buffered per subscription; a slower consumer switches to "
        "catching up from storage (nothing is dropped).",
    ),
    Setting(
        "max_subscriptions",
        "20000",
        "Open SubscribeInbox streams allowed; more fail with RESOURCE_EXHAUSTED.",
    ),
    Setting(
        "max_subscriptions_per_agent",
        "8",
        "Open SubscribeInbox streams allowed per agent; a newer one fails with "
        "RESOURCE_EXHAUSTED TOO_MANY_SUBSCRIPTIONS (the open ones keep running).",
    ),
    Setting(
        "rate_limit_write_per_second",
        "1000",
        "Per-agent rate of writes (send, reply, mark, ack, profile, contacts, registration); "
        "over it, RESOURCE_EXHAUSTED RATE_LIMITED with RetryInfo. 0 turns the tier off.",
    ),
    Setting("rate_limit_write_burst", "2000", "Writes an agent may make at once after a pause."),
    Setting(
        "rate_limit_read_per_second",
        "2000",
        "Per-agent rate of reads (get, list, thread, summary, outbox, receipts); 0 turns it off.",
    ),
    Setting("rate_limit_read_burst", "4000", "Reads an agent may make at once after a pause."),
    Setting(
        "rate_limit_search_per_second",
        "500",
        "Per-agent rate of SearchMessages calls; 0 turns the tier off.",
    ),
    Setting("rate_limit_search_burst", "1000", "Searches an agent may make at once."),
    Setting(
        "rate_limit_stream_per_second",
        "20",
        "Per-agent rate of SubscribeInbox stream opens; 0 turns the tier off.",
    ),
    Setting("rate_limit_stream_burst", "200", "Stream opens an agent may make at once."),
    Setting(
        "rate_limit_subjects",
        "100000",
        "Callers (agents, or peer addresses for calls without a known token) whose buckets "
        "are kept per tier; past it the least recently seen is forgotten (starts full again).",
    ),
    Setting(
        "flood_guard_per_minute",
        "60",
        "Messages one agent may send to one recipient per minute (all at once after a quiet "
        "minute, then evenly); more fail with RESOURCE_EXHAUSTED FLOOD_GUARD. 0 turns it off.",
    ),
    Setting(
        "heartbeat_seconds",
        "15",
        "Idle time after which a subscription receives a heartbeat with its tail cursor.",
    ),
    Setting("cache_size", "10000", "Entries in each of the token and agent-name caches (LRU)."),
    Setting(
        "search_relevance_candidates",
        "2000",
        "Relevance-ordered searches rank the newest this many matches the caller can see "
        "(older matches are left out of relevance order; newest-first searches see all).",
    ),
    Setting("uvloop", "true", "Run on uvloop when it is installed ('false' for asyncio's loop)."),
    Setting(
        "ceiling_endpoints",
        "false",
        "Serve agentmail.bench.Ceiling (an empty RPC and a stream) for benchmarks' ceilings.",
    ),
    Setting(
        "log_level",
        "INFO",
        "Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL (DEBUG adds one line per RPC).",
    ),
    Setting(
        "access_log",
        "false",
        "Log one line per RPC at INFO (request id, method, status, error reason, time; "
        "never a token).",
    ),
    Setting(
        "archive",
        "true",
        "Keep a git archive of every message and agent profile, written in the background "
        "(see Archive).",
    ),
    Setting(
        "archive_dir",
        "archive.git",
        "The archive's bare git repository (created if absent); a relative path is inside "
        "the data folder.",
    ),
    Setting("archive_branch", "main", "Branch the archive commits to."),
    Setting("archive_author_name", "agentmail", "Author and committer name of archive commits."),
    Setting(
        "archive_author_email",
        "agentmail@localhost",
        "Author and committer email of archive commits.",
    ),
    Setting(
        "archive_max_batch",
        "2000",
        "Most messages (and, separately, agent profile changes) written in one archive commit.",
    ),
    Setting(
        "archive_interval_seconds",
        "1",
        "Least time between two archive commits: a lone message is archived at once, and under "
        "load everything committed meanwhile shares the next commit.",
    ),
    Setting(
        "retention_days",
        "0",
        "Purge mail (messages, deliveries, idempotency keys, search entries) older than this "
        "many days, in the background; 0 keeps everything. The git archive keeps its history.",
    ),
    Setting(
        "reservation_stale_seconds",
        "1800",
        "Inactivity after which an agent's file reservations are stale: another agent may "
        "then force-release them.",
    ),
    Setting(
        "reservation_expiry_warning_seconds",
        "300",
        "How long before a file reservation expires its holder is told, once, on its "
        "subscription (0 turns the warning off).",
    ),
    Setting(
        "reservation_sweep_seconds",
        "60",
        "Time between two runs of the background task that records expired file "
        "reservations as released (expiry itself holds by time, whatever this is).",
    ),
    Setting(
        "default_contact_policy",
        "auto",
        "Contact policy of agents that set none: 'open', 'auto' (mail within the auto window "
        "or an approved contact), 'contacts_only' or 'block_all'.",
    ),
    Setting(
        "contact_auto_window_seconds",
        "86400",
        "How recent an exchange of mail between two agents must be for the 'auto' policy to "
        "let them write to each other without an approved contact.",
    ),
    Setting(
        "broadcast_idle_seconds",
        "604800",
        "A broadcast skips agents with no authenticated call for this long (and says so); "
        "0 never skips idle agents.",
    ),
    Setting(
        "auto_retire_idle_seconds",
        "0",
        "Retire agents with no authenticated call for this long, in the background; 0 never.",
    ),
    Setting(
        "presence_flush_seconds",
        "5",
        "How often agents' last-active times, kept in memory, are written (one write for all).",
    ),
    Setting(
        "ack_overdue_seconds",
        "3600",
        "How long an ack-required message may wait before ListPendingAcks calls it overdue "
        "(a request may pass its own threshold).",
    ),
    Setting(
        "enrollment_secret",
        "",
        "Shared secret that creating a project or registering a new agent requires, sent as "
        "'x-agentmail-enrollment' metadata; empty lets anyone who reaches the port enroll. "
        "Never printed or logged.",
    ),
    Setting(
        "operator_token_hashes",
        "",
        "Comma-separated SHA-256 hex digests of operator tokens, besides those that "
        "'agentmail-admin operator-token' stored in the data folder.",
    ),
    Setting(
        "operator_cert_names",
        "",
        "Comma-separated common names (CN) of client certificates that make a call without a "
        "bearer token an operator's (exact match; a token, when sent, wins). Needs "
        "--tls-client-ca.",
    ),
)

# Settings whose values are secrets: --print-config shows them redacted.
SECRET_SETTINGS = REDACTED_KEYS


# Most serving processes --workers may start (each is a whole server with its own pools).
MAX_WORKERS = 64


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Validated server settings. Build with :func:`load_config` or directly in tests."""

    listen: str = "127.0.0.1:7070"
    # TLS files ("" for none): paths, kept as text so that "unset" prints as "" and not ".".
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    insecure: bool = False
    # Off unless asked for when built directly (tests, embedding): a second fixed port would
    # clash between servers in one process. The command line's default turns it on.
    metrics_listen: str = ""
    data_dir: pathlib.Path = pathlib.Path("./agentmail-data")
    # Kept out of repr: it may carry a password.
    database_url: str = dataclasses.field(default="", repr=False)
    # Processes serving the one port (see agentmail_server.workers).
    workers: int = 1
    grace_seconds: float = 5.0
    read_pool_size: int = 4
    writer_queue_size: int = 10000
    writer_max_batch: int = 512
    sqlite_synchronous: SyncMode = "full"
    max_receive_bytes: int = 8 * 1024 * 1024
    max_send_bytes: int = 64 * 1024 * 1024
    max_sends_per_call: int = 500
    search_index_idle_seconds: float = 0.02
    subscriber_buffer: int = 256
    max_subscriptions: int = 20000
    max_subscriptions_per_agent: int = 8
    rate_limit_write_per_second: float = 1000.0
    rate_limit_write_burst: int = 2000
    rate_limit_read_per_second: float = 2000.0
    rate_limit_read_burst: int = 4000
    rate_limit_search_per_second: float = 500.0
    rate_limit_search_burst: int = 1000
    rate_limit_stream_per_second: float = 20.0
    rate_limit_stream_burst: int = 200
    rate_limit_subjects: int = 100000
    # Off unless asked for when built directly (tests, embedding): tests send many messages
    # between one pair on purpose. The command line's default (60) turns it on.
    flood_guard_per_minute: int = 0
    heartbeat_seconds: float = 15.0
    cache_size: int = 10000
    search_relevance_candidates: int = 2000
    uvloop: bool = True
    ceiling_endpoints: bool = False
    log_level: str = "INFO"
    access_log: bool = False
    archive: bool = True
    archive_dir: pathlib.Path = pathlib.Path("archive.git")
    archive_branch: str = "main"
    archive_author_name: str = "agentmail"
    archive_author_email: str = "agentmail@localhost"
    archive_max_batch: int = 2000
    archive_interval_seconds: float = 1.0
    retention_days: int = 0
    default_contact_policy: ContactPolicyName = "auto"
    contact_auto_window_seconds: int = 86400
    broadcast_idle_seconds: int = 7 * 86400
    auto_retire_idle_seconds: int = 0
    presence_flush_seconds: float = 5.0
    ack_overdue_seconds: int = 3600
    reservation_stale_seconds: float = 1800.0
    reservation_expiry_warning_seconds: float = 300.0
    reservation_sweep_seconds: float = 60.0
    # Kept out of repr so that logging a config never shows it.
    enrollment_secret: str = dataclasses.field(default="", repr=False)
    operator_token_hashes: str = ""
    operator_cert_names: str = ""

    def __post_init__(self) -> None:
        if ":" not in self.listen:
            raise ValueError(f"listen must be host:port, got {self.listen!r}")
        self._check_transport()
        if self.metrics_enabled:
            host, _, port = self.metrics_listen.rpartition(":")
            if not host or not port.isdigit() or int(port) > 65535:
                raise ValueError(
                    f"metrics_listen must be host:port or 'off', got {self.metrics_listen!r}"
                )
        if self.grace_seconds < 0:
            raise ValueError("grace_seconds must be >= 0")
        if self.heartbeat_seconds <= 0:
            raise ValueError("heartbeat_seconds must be > 0")
        if self.search_index_idle_seconds <= 0:
            raise ValueError("search_index_idle_seconds must be > 0")
        for name in (
            "read_pool_size",
            "writer_queue_size",
            "writer_max_batch",
            "subscriber_buffer",
            "max_subscriptions",
            "max_subscriptions_per_agent",
            "rate_limit_write_burst",
            "rate_limit_read_burst",
            "rate_limit_search_burst",
            "rate_limit_stream_burst",
            "rate_limit_subjects",
            "cache_size",
            "search_relevance_candidates",
            "archive_max_batch",
            "max_sends_per_call",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.sqlite_synchronous not in ("full", "normal"):
            raise ValueError("sqlite_synchronous must be 'full' or 'normal'")
        if self.max_receive_bytes < 2 * 1024 * 1024:
            raise ValueError("max_receive_bytes must be at least 2 MiB to fit a 1 MiB body")
        if self.retention_days < 0:
            raise ValueError("retention_days must be >= 0 (0 turns retention off)")
        if self.default_contact_policy not in ("open", "auto", "contacts_only", "block_all"):
            raise ValueError(
                "default_contact_policy must be 'open', 'auto', 'contacts_only' or 'block_all',"
                f" got {self.default_contact_policy!r}"
            )
        for name in (
            "contact_auto_window_seconds",
            "broadcast_idle_seconds",
            "auto_retire_idle_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in (
            "rate_limit_write_per_second",
            "rate_limit_read_per_second",
            "rate_limit_search_per_second",
            "rate_limit_stream_per_second",
            "flood_guard_per_minute",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 turns it off)")
        if self.presence_flush_seconds <= 0:
            raise ValueError("presence_flush_seconds must be > 0")
        if not 1 <= self.ack_overdue_seconds <= MAX_ACK_OVERDUE_SECONDS:
            raise ValueError(
                f"ack_overdue_seconds must be within 1..{MAX_ACK_OVERDUE_SECONDS} (ten years)"
            )
        if self.reservation_stale_seconds <= 0:
            raise ValueError("reservation_stale_seconds must be > 0")
        if self.reservation_expiry_warning_seconds < 0:
            raise ValueError("reservation_expiry_warning_seconds must be >= 0 (0 turns it off)")
        if self.reservation_sweep_seconds <= 0:
            raise ValueError("reservation_sweep_seconds must be > 0")
        if self.archive_interval_seconds < 0:
            raise ValueError("archive_interval_seconds must be >= 0")
        for digest in self.operator_hashes:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(
                    "operator_token_hashes must be comma-separated SHA-256 hex digests"
                    " (64 lower-case hex characters each)"
                )
        self._check_database()
        if self.log_level.strip().upper() not in LOG_LEVELS:
            raise ValueError(
                f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )

    def _check_database(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
        if self.workers > 1 and not self.database_url:
            # SQLite has one writer per data folder (the folder lock refuses a second process).
            raise ValueError("several workers need a shared database: pass --database-url")
        if self.workers > 1 and self.listen.startswith("unix:"):
            raise ValueError("several workers share a TCP port: --listen must be host:port")
        if not self.database_url:
            return
        if not is_postgres_url(self.database_url):
            # The value itself is not repeated: it may carry a password.
            raise ValueError(
                "database_url must be a PostgreSQL URL (postgresql://user@host:port/dbname)"
            )

    def _check_transport(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: give both (TLS) or neither")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("tls_client_ca (client certificates) needs tls_cert and tls_key")
        if self.operator_certificate_names and not self.tls_client_ca:
            # Without a client CA no client certificate is asked for, so none could match.
            raise ValueError(
                "operator_cert_names (operator client certificates) needs tls_client_ca:"
                " without client certificates no name could ever match"
            )
        if not self.tls_enabled and not self.insecure and not is_loopback(self.listen):
            raise ValueError(
                f"refusing to serve plaintext on {self.listen}, which other hosts can reach: "
                "give --tls-cert and --tls-key, listen on 127.0.0.1 or a unix: socket, "
                "or pass --insecure to accept the risk"
            )

    @property
    def tls_enabled(self) -> bool:
        """Whether the server speaks TLS (``tls_cert`` and ``tls_key`` are set)."""
        return bool(self.tls_cert and self.tls_key)

    @property
    def metrics_enabled(self) -> bool:
        """Whether to serve /metrics (``metrics_listen`` is neither empty nor 'off')."""
        return self.metrics_listen.strip().lower() not in ("", "off")

    @property
    def operator_hashes(self) -> tuple[str, ...]:
        """The digests of ``operator_token_hashes``, one per operator token."""
        return tuple(part.strip() for part in self.operator_token_hashes.split(",") if part.strip())

    @property
    def operator_certificate_names(self) -> frozenset[str]:
        """The common names of ``operator_cert_names``, each stripped of surrounding spaces."""
        return frozenset(
            part.strip() for part in self.operator_cert_names.split(",") if part.strip()
        )

    @property
    def operator_tokens_path(self) -> pathlib.Path:
        """The file of operator token hashes that ``agentmail-admin operator-token`` writes."""
        return self.data_dir / "operator-tokens"

    @property
    def uses_postgres(self) -> bool:
        """Whether storage is the PostgreSQL database of ``database_url``."""
        return bool(self.database_url)

    @property
    def database_path(self) -> pathlib.Path:
        """The SQLite database file inside the data folder."""
        return self.data_dir / "agentmail.sqlite3"

    @property
    def archive_path(self) -> pathlib.Path:
        """The archive repository: ``archive_dir``, taken inside the data folder if relative."""
        return self.data_dir / self.archive_dir


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _verbatim(text: str) -> str:
    return text


_PARSER_BY_TYPE: Mapping[object, Callable[[str], object]] = {
    bool: _parse_bool,
    int: int,
    float: float,
    pathlib.Path: pathlib.Path,
    str: _verbatim,
}


def _parser_for(name: str, kind: object) -> Callable[[str], object]:
    """The parser of a ``ServerConfig`` field's text, chosen by the field's resolved type.

    A Literal of strings takes the text verbatim: ``ServerConfig`` checks that it is one of the
    allowed values (for servers built in code too). Any other type is a programming error.
    """
    if typing.get_origin(kind) is Literal:
        if all(isinstance(value, str) for value in typing.get_args(kind)):
            return _verbatim
    elif kind in _PARSER_BY_TYPE:
        return _PARSER_BY_TYPE[kind]
    raise TypeError(f"ServerConfig.{name}: no parser for settings of type {kind!r}")


# Resolved once at import: a field of a type with no parser fails here, not at start-up.
_FIELD_TYPES: Mapping[str, object] = typing.get_type_hints(ServerConfig)
_PARSERS: Mapping[str, Callable[[str], object]] = {
    name: _parser_for(name, kind) for name, kind in _FIELD_TYPES.items()
}


def _coerce(field: str, raw: str) -> object:
    """Parse the text of one setting into its ``ServerConfig`` field's type."""
    return _PARSERS[field](raw)


# Where a setting's value came from, lowest precedence first.
Source = Literal["default", "file", "environment", "flag"]
CONFIG_FLAG = "--config"
CONFIG_ENV = "AGENTMAIL_CONFIG"


@dataclasses.dataclass(frozen=True)
class ResolvedConfig:
    """The effective configuration, where each setting came from, and what was asked.

    Attributes:
        config: the validated settings.
        sources: each setting's field name -> where its value came from.
        config_file: the TOML file read, if any.
        print_config: ``--print-config`` was given: show the settings instead of serving.
    """

    config: ServerConfig
    sources: Mapping[str, Source]
    config_file: pathlib.Path | None
    print_config: bool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentmail-server", description="Run the agentmail gRPC server."
    )
    parser.add_argument(
        CONFIG_FLAG,
        dest="config_file",
        default=None,
        help="TOML file of settings, keyed by their names (data_dir = '/var/lib/agentmail'); "
        f"flags and environment override it [env {CONFIG_ENV}]",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective settings and where each came from, then exit",
    )
    for setting in SETTINGS:
        # A boolean flag alone means true (`--insecure`); `--insecure false` still works.
        bare = {"nargs": "?", "const": "true"} if _FIELD_TYPES[setting.field] is bool else {}
        parser.add_argument(
            setting.flag,
            dest=setting.field,
            default=None,
            help=f"{setting.help} [env {setting.env}, default {setting.default}]",
            **bare,  # type: ignore[arg-type]
        )
    return parser


def resolve_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> ResolvedConfig:
    """Build the configuration and note each value's source.

    Precedence: flags, then ``AGENTMAIL_*`` environment variables, then the config file
    (``--config`` or ``AGENTMAIL_CONFIG``), then the defaults. Any error (a bad value, an
    unknown key or a wrongly typed value in the file, an unreadable file) exits with status 2
    and one line naming the culprit, like any other argparse error.
    """
    environ = os.environ if environ is None else environ
    parser = _parser()
    args = parser.parse_args(argv)
    file_text = args.config_file if args.config_file is not None else environ.get(CONFIG_ENV)
    config_file = pathlib.Path(file_text) if file_text else None
    from_file: Mapping[str, object] = {}
    if config_file is not None:
        try:
            from_file = {
                key: value if not isinstance(value, str) else _coerce(key, value)
                for key, value in read_config_file(config_file, _FIELD_TYPES).items()
            }
        except ValueError as exc:  # ConfigFileError included
            # One line, without the usage: the flags were fine, the file was not.
            parser.exit(2, f"{parser.prog}: error: {exc}\n")
    values: dict[str, object] = {}
    sources: dict[str, Source] = {}
    for setting in SETTINGS:
        flag_value = getattr(args, setting.field)
        try:
            if flag_value is not None:
                values[setting.field], sources[setting.field] = (
                    _coerce(setting.field, flag_value),
                    "flag",
                )
            elif setting.env in environ:
                values[setting.field] = _coerce(setting.field, environ[setting.env])
                sources[setting.field] = "environment"
            elif setting.field in from_file:
                values[setting.field], sources[setting.field] = from_file[setting.field], "file"
            else:
                values[setting.field] = _coerce(setting.field, setting.default)
                sources[setting.field] = "default"
        except ValueError as exc:
            where = setting.flag if flag_value is not None else setting.env
            parser.error(f"{where}: {exc}")
    try:
        config = ServerConfig(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        # One line, without the usage: each value parsed, their combination is wrong.
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return ResolvedConfig(config, sources, config_file, args.print_config)


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Build the configuration: flags override environment, then the config file, then
    defaults (see :func:`resolve_config`)."""
    return resolve_config(argv, environ).config
