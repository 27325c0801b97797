"""What a restore can be refused with, beyond what any write can (NotFound, NotOwner,
PreconditionFailed, a constraint's refusal)."""

from app.errors import Conflict, MissingReference, RefusedValue


class VersionRequired(RefusedValue):
    """A restore of a row that exists names no version: only a deleted row has a state to
    restore by default (the last one before its deletion)."""

    field = "version"
    problem = "missing"
    message = (
        "Required for a row that exists: name the version to restore (its history lists "
        "them); only a deleted row comes back to its last state by default"
    )


class VersionNotRecorded(MissingReference):
    """The version a restore names was never recorded for this row."""

    field = "version"
    message = "Never recorded for this row: its history lists its versions"


class RestoreConflict(Conflict):
    """Another write restored, changed or deleted the row while this restore ran: the
    database refused the one that came second (the row's id, or the change log's unique
    version)."""

    detail = "It was restored, changed or deleted meanwhile: read its history and try again"


class NotRestorable(Conflict):
    """The row is gone but its deletion was not recorded (it was deleted before the change
    log existed, or by another tool): nothing was kept to restore it with."""

    detail = "Its deletion was not recorded, so it cannot be restored"
