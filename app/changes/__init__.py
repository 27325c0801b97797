"""The change feed's routes: what changed, after a position, as JSON or a long poll."""
