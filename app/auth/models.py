"""What signing in stores and answers: refresh tokens (hashed), and the token pair.

A refresh token is a random string given to the client once; the table keeps only its
SHA-256, so that a copy of the database signs no one in. Tokens of one sign-in form a
`family`: each refresh uses one up and adds the next, and a used token that comes back
(stolen, or replayed) revokes the whole family.
"""

from datetime import datetime
from typing import cast

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Table
from sqlmodel import Field, SQLModel

from app.db.tables import ID_TYPE, UTCDateTime
from app.http.responses import ANSWER_CONFIG

TOKEN_HASH_LENGTH = 64  # SHA-256, in hex
FAMILY_LENGTH = 32  # 16 random bytes, in hex
REFRESH_TOKEN_MAX_LENGTH = 200  # what a client may send; ours are 43 characters


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_token"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    token_hash: str = Field(max_length=TOKEN_HASH_LENGTH, unique=True)
    family: str = Field(max_length=FAMILY_LENGTH, index=True)
    # A deleted user's tokens go with it.
    user_id: int = Field(sa_type=ID_TYPE, foreign_key="user.id", ondelete="CASCADE", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


REFRESH_TOKENS = cast(Table, RefreshToken.__table__)  # type: ignore[attr-defined]  # SQLModel's
"""The table itself, for statements: an INSERT of the model run through a session (as on
MariaDB) would be the ORM's bulk insert, which counts no rows."""


class TokenPair(BaseModel):
    """What signing in and refreshing answer (RFC 6749, 5.1)."""

    model_config = ANSWER_CONFIG

    access_token: str = PydanticField(description="A JWT: send it as `Authorization: Bearer`.")
    token_type: str = PydanticField(description="Always `bearer`.", examples=["bearer"])
    expires_in: int = PydanticField(description="Seconds the access token is good for.")
    refresh_token: str = PydanticField(
        description="Trade it at /auth/refresh for a new pair; good for one use."
    )


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refresh_token: str = PydanticField(
        min_length=1, max_length=REFRESH_TOKEN_MAX_LENGTH, description="The refresh token."
    )
