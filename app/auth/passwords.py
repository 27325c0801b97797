"""Password hashes: argon2id through pwdlib, computed off the event loop.

A hash takes about 0.2 s of one core (pwdlib's argon2 defaults: 64 MiB, 3 passes) and
argon2 releases the GIL, so hashing runs on the thread pool. Signing in as a user who
does not exist verifies against a hash made at start-up, so that it costs what a wrong
password costs: the answer's time does not tell which usernames exist.
"""

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.concurrency import run_in_threadpool


class Passwords:
    def __init__(self) -> None:
        self._hasher = PasswordHash((Argon2Hasher(),))
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await run_in_threadpool(self._hasher.hash, password)

    async def verify(self, password: str, stored_hash: str | None) -> bool:
        """Whether `password` is the one `stored_hash` was made from; with no hash (no
        such user), False, after the same work."""
        if stored_hash is None:
            stored_hash = await self._dummy()
            await run_in_threadpool(self._hasher.verify, password, stored_hash)
            return False
        return await run_in_threadpool(self._hasher.verify, password, stored_hash)

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("a password no user has")
        return self._dummy_hash
