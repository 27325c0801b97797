"""Password hashes: argon2id through pwdlib, computed off the event loop.

A hash takes about 0.2 s of one core (pwdlib's argon2 defaults: 64 MiB, 3 passes) and
argon2 releases the GIL, so hashing runs on the thread pool. Signing in as a user who
does not exist verifies against DUMMY_HASH, made with the same parameters, so that it
costs what a wrong password costs: the answer's time does not tell which usernames exist
(tests/auth/test_sign_in.py compares the two).
"""

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.concurrency import run_in_threadpool

# The hash of a password no one has, with the parameters every hash is made with.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$rbtSK05KMy5CNmhQp1riCA$"
    "2qj0GyQGcHxOp1oZk4JPze3CjO9tT98iyBtvajQFSWY"
)


class Passwords:
    def __init__(self) -> None:
        self._hasher = PasswordHash((Argon2Hasher(),))

    async def hash(self, password: str) -> str:
        return await run_in_threadpool(self.hash_now, password)

    def hash_now(self, password: str) -> str:
        """On this thread: for the command line."""
        return self._hasher.hash(password)

    async def verify(self, password: str, stored_hash: str | None) -> bool:
        """Whether `password` is the one `stored_hash` was made from; with no hash (no
        such user), False, after the same work."""
        if stored_hash is None:
            await run_in_threadpool(self._hasher.verify, password, DUMMY_HASH)
            return False
        return await run_in_threadpool(self._hasher.verify, password, stored_hash)
