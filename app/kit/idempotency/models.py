"""The table of idempotency keys: one row per (caller, key), a claim while its first request
runs, then that request's answer until the key expires."""

from datetime import datetime

from sqlalchemy import Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlmodel import Field, SQLModel

from app.db.tables import ID_TYPE, UTCDateTime, code_point_text

KEY_MAX_LENGTH = 255
CALLER_MAX_LENGTH = 255
FINGERPRINT_LENGTH = 64  # SHA-256 in hex
# MariaDB's BLOB holds 64 KB; an answer is far smaller than MEDIUMBLOB's 16 MB.
_BODY_TYPE = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    # The unique constraint is what decides, across workers and instances, which of the
    # requests that send one key runs: the others' INSERT of the claim is refused.
    __table_args__ = (
        UniqueConstraint("caller", "key"),
        Index("ix_idempotency_key_expires_at", "expires_at"),
        {
            "mysql_charset": "utf8mb4",
            "mysql_collate": "utf8mb4_bin",
            "mariadb_charset": "utf8mb4",
            "mariadb_collate": "utf8mb4_bin",
        },
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    # Who may replay the answer: "" (anyone holding the key) until users exist, then the
    # signed-in user's id (app/kit/idempotency/keys.py, `caller_of`).
    caller: str = Field(max_length=CALLER_MAX_LENGTH, sa_type=code_point_text(CALLER_MAX_LENGTH))
    key: str = Field(max_length=KEY_MAX_LENGTH, sa_type=code_point_text(KEY_MAX_LENGTH))
    fingerprint: str = Field(max_length=FINGERPRINT_LENGTH)
    # Bumped each time a claim is taken over (abandoned or expired): the answer is stored
    # only by the attempt that holds it, in the same transaction as its write.
    attempt: int = Field(default=1)
    # NULL while the first request runs (in flight); then its answer.
    status: int | None = Field(default=None)
    body: bytes | None = Field(default=None, sa_type=_BODY_TYPE)
    headers: str | None = Field(default=None, sa_type=Text)  # a JSON object
    created_at: datetime = Field(sa_type=UTCDateTime)
    # A claim not completed by then was abandoned (its worker died): another may take it.
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
