"""What a service raises when a request cannot be done: plain exceptions that
say what happened. The HTTP layer alone decides their status codes and headers
(app/http/errors.py)."""

from typing import ClassVar


class NotFound(Exception):
    """No row of the resource has the id asked for. Each resource names itself."""

    detail: ClassVar[str] = "Not found"


class PreconditionFailed(Exception):
    """The client's If-Match names a state the row has left: `version` is the current one,
    so that the client can re-read and retry."""

    def __init__(self, row_id: int, version: int) -> None:
        super().__init__(row_id, version)
        self.row_id = row_id
        self.version = version


class Gone(Exception):
    """What the request asks for is no longer kept. Each kind names itself."""

    detail: ClassVar[str] = "No longer kept"


class PreconditionRequired(Exception):
    """The deployment requires If-Match on changes, and none was sent."""


class Conflict(Exception):
    """The write would break a rule of the stored data that the database enforces (a
    name another row already has). Each rule names itself."""

    detail: ClassVar[str] = "Conflict with the stored data"


class RefusedValue(Exception):
    """A value of the request's body that the stored data refuses, though its schema
    allows it: answered as a 422 at ("body", field), in the shape of a schema's refusal.
    Each kind names its field, its problem type and what is wrong."""

    field: ClassVar[str]
    problem: ClassVar[str]
    message: ClassVar[str]


class MissingReference(RefusedValue):
    """A field of the request names a row that does not exist, or that was deleted at
    the same moment: the database's foreign key refused it. Each reference names its
    field and says what is missing."""

    problem = "missing_reference"


class Unauthenticated(Exception):
    """The request needs a signed-in user and has none: no token (`token_sent` False), or
    one that is refused (malformed, expired, tampered with, or its user gone). Each kind
    names itself."""

    detail: ClassVar[str] = "Not signed in, or the token was refused"
    token_sent: ClassVar[bool] = False


class Forbidden(Exception):
    """The user is signed in but may not do this. Each kind names itself."""

    detail: ClassVar[str] = "Forbidden"


class NotOwner(Forbidden):
    """WRITE_POLICY=owner: the row is neither the user's nor are they an admin."""

    detail = "Only the owner or an admin may change or delete this"


class TooManyAttempts(Exception):
    """Too many failed attempts: `retry_after` seconds until the next may be tried."""

    detail: ClassVar[str] = "Too many failed attempts, try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
