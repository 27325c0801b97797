"""What the database layer raises when the database, not the request, is at fault."""

import logging

logger = logging.getLogger("app.db")


class DatabaseUnavailable(Exception):
    """The database could not be reached, or did not answer in time: worth a retry."""


def unavailable(error: BaseException) -> DatabaseUnavailable:
    """The DatabaseUnavailable for a driver's error, logged once, here, in the driver's
    words (which never hold a password or a bound value)."""
    cause = getattr(error, "orig", None) or error
    logger.warning("database unavailable: %s: %s", type(cause).__name__, str(cause).strip())
    return DatabaseUnavailable()
