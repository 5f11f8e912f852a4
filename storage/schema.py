"""Collections and their indexes, created idempotently at every start, and older documents brought up to date.

Unique indexes carry the domain's "never twice" rules, so a retried job or a
duplicate webhook is refused by the database itself, not by hopeful code.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database

from core.faces.engines import DEFAULT_ENGINE
from storage.audit import chain_unchained
from storage.buckets import bucket_indexes
from storage.candidates import rank_unranked
from storage.outbox import date_pending_outbound

PHOTO_BUCKET = "photo_files"  # GridFS bucket: photo_files.files / photo_files.chunks
POSTER_BUCKET = "poster_files"  # GridFS bucket of appeals' posters (storage/appeals.py)
IMPORT_BUCKET = "import_files"  # GridFS bucket of uploaded imports: import_files.files / import_files.chunks

# A partner organisation's records through the API (found persons and cases alike): its pages by change time,
# with or without a status, or by its own id, and updates only if unchanged since read (If-Match).
PARTNER_RECORD_INDEXES = [
    IndexModel(
        [("organisation", ASCENDING), ("updated_at", ASCENDING), ("_id", ASCENDING)],
        name="organisation_updated",
    ),
    IndexModel(
        [("organisation", ASCENDING), ("status", ASCENDING), ("updated_at", ASCENDING), ("_id", ASCENDING)],
        name="organisation_status_updated",
    ),
    IndexModel([("organisation", ASCENDING), ("external_id", ASCENDING)], name="organisation_external_id"),
    IndexModel([("reference", ASCENDING), ("updated_at", ASCENDING)], name="reference_updated"),
]
INDEXES: dict[str, list[IndexModel]] = (
    {
        "users": [
            IndexModel([("username", ASCENDING)], unique=True, name="username_unique"),
            IndexModel([("organisation", ASCENDING)], name="organisation"),
        ],
        "photos": [
            # The same picture sent twice for the same case or sighting is stored once.
            IndexModel(
                [("owner.kind", ASCENDING), ("owner.id", ASCENDING), ("sha256", ASCENDING)],
                unique=True,
                name="owner_sha256_unique",
            ),
            IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="status_created"),
            # Recording an analysis updates by id and expected state (storage/updates.py): SecantusDB plans a filter
            # only through an index of exactly its fields, and scanned every photo for it without this one.
            IndexModel([("_id", ASCENDING), ("status", ASCENDING)], name="id_status"),
            # The reconciler's search for analysed photos never matched (matched_at missing).
            IndexModel(
                [("status", ASCENDING), ("matched_at", ASCENDING), ("analysed_at", ASCENDING)], name="unmatched"
            ),
            # Whom to tell about a photo, emptied when that contact is forgotten (storage/retention.py).
            IndexModel([("notify.contact", ASCENDING)], sparse=True, name="notify_contact"),
        ],
        "faces": [
            # A photo's faces are numbered per engine; re-running its analysis rewrites the same slots.
            IndexModel(
                [("photo_id", ASCENDING), ("engine", ASCENDING), ("index", ASCENDING)],
                unique=True,
                name="photo_engine_index_unique",
            ),
            IndexModel([("owner.kind", ASCENDING), ("owner.id", ASCENDING)], name="owner"),
            IndexModel(
                [("owner.kind", ASCENDING), ("quality", ASCENDING), ("created_at", DESCENDING)],
                name="kind_quality_created",
            ),
            IndexModel([("owner.kind", ASCENDING), ("matchable_since", ASCENDING)], name="kind_matchable_since"),
            IndexModel([("created_at", ASCENDING)], name="created"),  # the reconciler's orphan sweep
        ],
        # A (case, sighting face) pair is put before a reviewer once.
        "candidates": [
            IndexModel([("case", ASCENDING), ("sighting_face_id", ASCENDING)], unique=True, name="pair_unique"),
            # Counts per band and the escalation of overdue strong ones; the review queue sorts on the band's rank.
            IndexModel([("status", ASCENDING), ("band", ASCENDING), ("created_at", ASCENDING)], name="queue"),
            IndexModel(
                [("status", ASCENDING), ("band_rank", ASCENDING), ("created_at", ASCENDING)], name="review_queue"
            ),
            IndexModel([("sighting_face_id", ASCENDING), ("status", ASCENDING)], name="sighting_face"),
            IndexModel([("sighting", ASCENDING)], name="sighting"),
            # A found person's candidates, and whether one still shows its faces (admin/images.py).
            IndexModel([("found", ASCENDING), ("images_dropped_at", ASCENDING)], name="found_images"),
            # The review queue: flagged candidates after the unflagged of their band (storage/candidates.py).
            IndexModel(
                [("status", ASCENDING), ("band_rank", ASCENDING), ("flagged", ASCENDING), ("created_at", ASCENDING)],
                name="review_queue_flagged",
            ),
            # The reconciler's approvals whose family was never told (exactly its query's fields, as SecantusDB needs).
            IndexModel([("status", ASCENDING), ("told_at", ASCENDING), ("decided_at", ASCENDING)], name="untold"),
            # A review decision updates by id and expected state (see photos' id_status).
            IndexModel([("_id", ASCENDING), ("status", ASCENDING)], name="id_status"),
            # An outcome is set by id, expected state and the outcome read (storage/outcomes.py).
            IndexModel([("_id", ASCENDING), ("status", ASCENDING), ("outcome", ASCENDING)], name="id_status_outcome"),
            IndexModel([("created_at", ASCENDING)], name="created"),  # the funnel of a period, and exports
            # The overview's review statistics: the decisions of the last days (storage/reports.py decisions_since).
            IndexModel([("status", ASCENDING), ("decided_at", ASCENDING)], name="status_decided"),
            # A closed case's approved matches, whose organisations hear of it (services/partner_events.py).
            IndexModel([("case", ASCENDING), ("status", ASCENDING)], name="case_status"),
            # Outcomes set lately, whose partner events the reconciler makes sure of (services/partner_events.py).
            IndexModel([("status", ASCENDING), ("outcome_at", ASCENDING)], name="status_outcome_at"),
        ],
        "audit": [
            IndexModel([("target", ASCENDING), ("at", DESCENDING)], name="target_at"),
            IndexModel([("at", DESCENDING)], name="at"),
            # The hash chain: two writers cannot both extend the same head (storage/audit.py).
            # Sparse, not partial: entries from before the chain have no seq, and SecantusDB uses sparse indexes.
            IndexModel([("seq", ASCENDING)], unique=True, sparse=True, name="seq_unique"),
            # The last batch of API reads the chain vouches for (storage/audit.py seal_api_reads).
            IndexModel([("action", ASCENDING), ("seq", DESCENDING)], name="action_seq"),
        ],
        # API reads, unchained (storage/api_reads.py): batched by _id, shown in a record's history by target.
        "api_reads": [
            IndexModel([("targets", ASCENDING), ("at", DESCENDING)], name="targets_at"),
            # The ranges of _id the chain's batches cover: SecantusDB answers a range of _id alone by scanning.
            IndexModel([("_id", ASCENDING), ("at", ASCENDING)], name="id_range"),
        ],
        "audit_notes": [IndexModel([("target", ASCENDING)], name="target")],
        # A platform delivering the same update again (Telegram update_id, Twilio MessageSid) is stored once.
        "inbound": [
            IndexModel([("channel", ASCENDING), ("message_id", ASCENDING)], unique=True, name="platform_id_unique"),
            # A contact's pending messages, and many contacts' at once (status first: SecantusDB reads `$in` on a
            # contact through the index only after an equality).
            IndexModel(
                [("status", ASCENDING), ("contact", ASCENDING), ("received_at", ASCENDING)], name="pending_contact"
            ),
            # The reconciler's "pending for too long" across contacts.
            IndexModel([("status", ASCENDING), ("received_at", ASCENDING)], name="status_received"),
            # Stored while Redis was down, never queued: the reconciler wakes them without waiting out its grace.
            IndexModel([("unqueued", ASCENDING)], name="unqueued"),
        ],
        "conversations": [
            IndexModel([("contact", ASCENDING)], unique=True, name="contact_unique"),
            IndexModel([("last_inbound_at", ASCENDING)], name="last_inbound"),  # the sweeps of silent contacts
        ],
        "outbox": [
            IndexModel([("contact", ASCENDING), ("seq", ASCENDING)], unique=True, name="contact_seq_unique"),
            IndexModel([("contact", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)], name="contact_pending"),
            # Due for (another) try and stuck in `sending`, each lane's apart (the reconciler judges a volunteers'
            # backlog by its own lane: storage/outbox.py due_outbound); a chat message has no `lane` (null).
            IndexModel([("status", ASCENDING), ("lane", ASCENDING), ("next_attempt_at", ASCENDING)], name="lane_due"),
            IndexModel([("status", ASCENDING), ("lane", ASCENDING), ("sending_at", ASCENDING)], name="lane_sending"),
            IndexModel([("status", ASCENDING), ("failed_at", DESCENDING)], name="status_failed"),
            # SMS segments and cost of the last day and week, on the overview (sms_usage).
            IndexModel([("channel", ASCENDING), ("status", ASCENDING), ("sent_at", ASCENDING)], name="channel_sent"),
            # Messages to others about an erased family's case (volunteers' alerts): storage/erasure.py.
            IndexModel([("about", ASCENDING)], name="about"),
            # Sparse, not partial: SecantusDB answers a lookup through a partial index by scanning (0.5 s at 20 000).
            IndexModel([("source", ASCENDING)], unique=True, sparse=True, name="source_unique"),
        ],
        "counters": [],
        # Partner webhooks (storage/partner_hooks.py): an organisation's endpoints, and those subscribed to an event.
        "partner_hooks": [IndexModel([("organisation", ASCENDING), ("created_at", ASCENDING)], name="organisation")],
        # An erased case's events, by the record they are about (storage/partner_events.py forget_erased_case).
        "partner_events": [IndexModel([("record", ASCENDING), ("type", ASCENDING)], name="record_type")],
        "partner_deliveries": [
            IndexModel([("event", ASCENDING), ("endpoint", ASCENDING)], unique=True, name="event_endpoint_unique"),
            IndexModel([("stream", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)], name="stream_pending"),
            # Due for (another) try and stuck in `sending`: the reconciler's two queries (storage/partner_events.py).
            IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="status_due"),
            IndexModel([("status", ASCENDING), ("sending_at", ASCENDING)], name="status_sending"),
            IndexModel([("organisation", ASCENDING), ("created_at", DESCENDING)], name="organisation_log"),
            IndexModel([("endpoint", ASCENDING), ("created_at", DESCENDING)], name="endpoint_log"),  # the API's log
            # The retention sweep's (storage/partner_events.py sweep_partner_events): delivered, and given up, long ago.
            IndexModel([("status", ASCENDING), ("delivered_at", ASCENDING)], name="status_delivered"),
            IndexModel([("status", ASCENDING), ("failed_at", ASCENDING)], name="status_failed"),
            IndexModel([("_id", ASCENDING), ("organisation", ASCENDING), ("status", ASCENDING)], name="redeliver"),
        ],
        # Hashes of platform ids whose stubs are gone (storage/inbound.py); the sweep removes the old ones by `at`.
        "replay_markers": [IndexModel([("at", ASCENDING)], name="at")],
        # What left matching (closed or erased cases and sightings), which every worker's index follows.
        "gallery_changes": [IndexModel([("at", ASCENDING)], name="at")],
        "cases": [
            IndexModel([("reference", ASCENDING)], unique=True, name="reference_unique"),
            IndexModel([("source", ASCENDING)], unique=True, name="source_unique"),
            IndexModel([("reporter", ASCENDING), ("created_at", DESCENDING)], name="reporter"),
            IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status_created"),
            IndexModel([("status", ASCENDING), ("closed_at", ASCENDING)], name="status_closed"),  # closed cases' sweep
            # Closing a case: by reference and expected status, and by its reporter from the chat (storage/cases.py).
            IndexModel([("reference", ASCENDING), ("status", ASCENDING), ("reporter", ASCENDING)], name="close"),
            # Cases organisations register by API (storage/partner_cases.py): its pages by change time (with or
            # without a status, or by its own id), updates only if unchanged since read, the family's consent
            # answer by its contact, and approvals for its panel's notifications.
            *PARTNER_RECORD_INDEXES,
            IndexModel([("family.contact", ASCENDING)], name="family_contact"),
            IndexModel([("family.pending", ASCENDING)], name="family_pending"),  # the reconciler's look
            # The retention sweep's families asked long ago who never answered.
            IndexModel([("family.consent", ASCENDING), ("family.asked_at", ASCENDING)], name="family_unanswered"),
            IndexModel([("organisation", ASCENDING), ("approved_at", DESCENDING)], name="organisation_approved"),
        ],
        "sightings": [
            IndexModel([("reference", ASCENDING)], unique=True, name="reference_unique"),
            IndexModel([("source", ASCENDING)], unique=True, name="source_unique"),
            IndexModel([("reporter", ASCENDING)], name="reporter"),
            IndexModel([("created_at", DESCENDING)], name="created"),
            # The sightings that came through an appeal, newest first (storage/appeal_sightings.py).
            IndexModel([("appeal", ASCENDING), ("created_at", DESCENDING)], name="appeal_created"),
        ],
        "organisations": [
            IndexModel([("name", ASCENDING)], unique=True, name="name_unique"),
            IndexModel([("kind", ASCENDING)], name="kind"),
        ],
        # People institutions hold (storage/found_persons.py); a registrar's list is one organisation's, newest first.
        "found_persons": [
            IndexModel([("reference", ASCENDING)], unique=True, name="reference_unique"),
            IndexModel([("source", ASCENDING)], unique=True, name="source_unique"),
            IndexModel([("organisation", ASCENDING), ("created_at", DESCENDING)], name="organisation_created"),
            IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status_created"),
            # Its registrars' notifications: the records whose family was told, newest first (and since when last seen).
            IndexModel([("organisation", ASCENDING), ("family_told_at", DESCENDING)], name="organisation_told"),
            # The partner API's pages (storage/found_persons.py page_found_persons): by change time, with or without a
            # status, or by the organisation's own id; and its updates only if unchanged since read (If-Match).
            *PARTNER_RECORD_INDEXES,
            # Closing an open record (by reference and expected status): the panel's and the API's.
            IndexModel([("reference", ASCENDING), ("status", ASCENDING)], name="reference_status"),
            IndexModel([("status", ASCENDING), ("closed_at", ASCENDING)], name="status_closed"),  # recent closes
        ],
        # Imports uploaded in the panel (storage/imports.py): an organisation's newest first, or every one's; the job
        # moves one by id and expected state.
        "imports": [
            IndexModel([("organisation", ASCENDING), ("created_at", DESCENDING)], name="organisation_created"),
            IndexModel([("created_at", DESCENDING)], name="created"),
            IndexModel([("_id", ASCENDING), ("status", ASCENDING)], name="id_status"),
            # The reconciler's look for imports whose worker died (workers/bulk.py end_abandoned_imports).
            IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="status_created"),
        ],
        # Organisations' API keys (storage/api_keys.py): every call finds its key by hash; the panel lists them.
        "api_keys": [
            IndexModel([("hash", ASCENDING)], unique=True, name="hash_unique"),
            IndexModel([("organisation", ASCENDING), ("created_at", DESCENDING)], name="organisation_created"),
        ],
        # The partner API's idempotency keys (storage/idempotency.py): one claim per key and Idempotency-Key; a dead
        # claim is taken over by the claim's time as read.
        "api_requests": [
            IndexModel([("api_key", ASCENDING), ("key", ASCENDING)], unique=True, name="api_key_key_unique"),
            IndexModel([("api_key", ASCENDING), ("key", ASCENDING), ("claimed_at", ASCENDING)], name="claimed"),
            IndexModel([("api_key", ASCENDING), ("key", ASCENDING), ("state", ASCENDING)], name="state"),
            IndexModel([("created_at", ASCENDING)], name="created"),  # the retention sweep, after KEEP_HOURS
        ],
        # Photos a bulk import found no usable face in (storage/unusable_photos.py), read once per import.
        "unusable_photos": [
            IndexModel([("organisation", ASCENDING), ("engine", ASCENDING)], name="organisation_engine"),
        ],
        # Public appeals (storage/appeals.py): one running per case, found by reference, token (the public page),
        # the reviewers' list, the reconciler's two sweeps and a contact's erasure.
        "appeals": [
            IndexModel([("reference", ASCENDING)], unique=True, name="reference_unique"),
            # Each change is made by reference and the state it expects (storage/appeals.py): exactly these fields.
            IndexModel([("reference", ASCENDING), ("status", ASCENDING), ("has_posters", ASCENDING)], name="changes"),
            IndexModel([("token", ASCENDING)], unique=True, name="token_unique"),
            IndexModel([("source", ASCENDING)], unique=True, name="source_unique"),
            IndexModel([("case", ASCENDING), ("status", ASCENDING)], name="case_status"),
            IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="status_created"),
            IndexModel([("status", ASCENDING), ("sent", ASCENDING)], name="status_sent"),
            # Volunteers never chosen for an approved appeal (storage/appeals.py volunteers_due).
            IndexModel(
                [("status", ASCENDING), ("volunteers_due", ASCENDING), ("sent_at", ASCENDING)], name="volunteers_due"
            ),
            IndexModel([("status", ASCENDING), ("has_posters", ASCENDING)], name="status_posters"),
            # Ended and refused appeals past HOMEWARD_KEEP_ENDED_APPEALS_DAYS (storage/appeals.py sweep_ended_appeals).
            IndexModel([("status", ASCENDING), ("ended_at", ASCENDING)], name="status_ended"),
            IndexModel([("status", ASCENDING), ("decided_at", ASCENDING)], name="status_decided"),
            IndexModel([("contact", ASCENDING)], name="contact"),
        ],
        # Volunteers (storage/volunteers.py): one per contact; an appeal's recipients by the cells of its place
        # (a multikey index: SecantusDB has no geo index); the cap's change by contact and the version read.
        "volunteers": [
            IndexModel([("contact", ASCENDING)], unique=True, name="contact_unique"),
            IndexModel([("cells", ASCENDING)], name="cells"),
            IndexModel([("contact", ASCENDING), ("version", ASCENDING)], name="contact_version"),
        ],
    }
    | bucket_indexes(PHOTO_BUCKET)
    | bucket_indexes(POSTER_BUCKET)
    | bucket_indexes(IMPORT_BUCKET)
)  # GridFS's own: storage/buckets.py


# Indexes an older version made that no query uses any more: dropped, as each costs every write.
# Replaced: outbox status_due/status_sending by lane_due/lane_sending; inbound contact_pending by pending_contact.
# Unused: outbox status_created (the reconciler asks lane_due and lane_sending).
RETIRED = {"outbox": ("status_due", "status_sending", "status_created"), "inbound": ("contact_pending",)}


def ensure_indexes(db: Database) -> None:
    retire_partial_indexes(db)
    for collection, names in RETIRED.items():
        for name in set(names) & set(db[collection].index_information()):
            db[collection].drop_index(name)
    for collection, indexes in INDEXES.items():
        if indexes:
            db[collection].create_indexes(indexes)


def retire_partial_indexes(db: Database) -> None:
    """Drop an index an older version made partial where it is now sparse (same rule), so it is made again."""
    for collection, indexes in INDEXES.items():
        existing = db[collection].index_information() if indexes else {}
        for index in indexes:
            name, sparse = index.document["name"], index.document.get("sparse", False)
            if sparse and "partialFilterExpression" in existing.get(name, {}):
                db[collection].drop_index(name)


# Where the upgrades already done in this database are named: each looks for old documents by a field they lack,
# which no index can answer, so it scans its whole collection (a million faces: ~40 s at every process start).
MIGRATIONS_DONE = "schema:migrations"


def upgrade_documents(db: Database) -> None:
    """Fill in fields that documents stored by an older version lack, once per database; each step may repeat."""
    steps = {
        "rank_unranked": rank_unranked,
        "label_engineless_faces": label_engineless_faces,
        "date_pending_outbound": date_pending_outbound,
        "chain_unchained": chain_unchained,
        "date_families_told": date_families_told,
        "date_found_updates": date_found_updates,
    }
    done = set((db.counters.find_one({"_id": MIGRATIONS_DONE}) or {}).get("done", []))
    for name, step in steps.items():
        if name not in done:
            step(db)
            db.counters.update_one({"_id": MIGRATIONS_DONE}, {"$addToSet": {"done": name}}, upsert=True)


def label_engineless_faces(db: Database) -> int:
    """Faces stored before engines existed are dlib's: say so, and retire the index that allowed one engine a photo."""
    if "photo_index_unique" in db.faces.index_information():
        db.faces.drop_index("photo_index_unique")
    return db.faces.update_many({"engine": {"$exists": False}}, {"$set": {"engine": DEFAULT_ENGINE}}).modified_count


def date_families_told(db: Database) -> int:
    """Give records told of before `family_told_at` existed their latest telling, so their registrars see them."""
    changed = 0
    for record in db.found_persons.find({"families_told.0": {"$exists": True}, "family_told_at": None}):
        latest = max(told["at"] for told in record["families_told"])
        changed += db.found_persons.update_one(
            {"_id": record["_id"]}, {"$set": {"family_told_at": latest}}
        ).modified_count
    return changed


def date_found_updates(db: Database) -> int:
    """Give records stored before `updated_at` was always set their last change, so a partner's list finds them."""
    changed = 0
    for record in db.found_persons.find({"updated_at": None}, {"created_at": 1, "closed_at": 1}):
        latest = record.get("closed_at") or record.get("created_at")
        changed += db.found_persons.update_one({"_id": record["_id"]}, {"$set": {"updated_at": latest}}).modified_count
    return changed
