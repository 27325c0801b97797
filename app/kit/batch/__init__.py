"""Bulk writes: `POST /<resource>/batch` creates and changes up to 1,000 rows in one
request, atomically or item by item, in one transaction whose changes the feed shows
together (README, "Batches"): the request's items (`items.py`), their writes (`writes.py`),
and the answer (`answers.py`)."""
