"""The change log: every write to a watched resource records what it changed, in its own
transaction, at a position that orders changes by commit (`log.py`); the feed, a row's
history and restores read it (`feed.py`)."""
