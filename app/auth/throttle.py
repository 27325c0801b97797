"""Failed sign-ins, counted per account and client address: past SIGN_IN_ATTEMPTS in
SIGN_IN_WINDOW_MINUTES, that account from that address gets 429 with Retry-After, before
its password is even checked.

The windows are the rate limit's (`limits`' sliding window counter, app/http/ratelimit.py):
shared in Redis when REDIS_URL is set, else each worker's own. Only failures count, so a
user who signs in every minute is never throttled; keyed by account and address together,
so an attacker elsewhere cannot lock a user out.
"""

import math

from limits import RateLimitItemPerMinute

from app.auth.errors import TooManySignIns
from app.http.ratelimit import Limiter, create_windows


class SignInThrottle:
    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter

    @classmethod
    def create(
        cls, attempts: int, minutes: int, redis_url: str | None, prefix: str, timeout: float
    ) -> "SignInThrottle":
        item = RateLimitItemPerMinute(attempts, minutes)
        return cls(create_windows(item, redis_url, prefix + "signin", timeout))

    async def check(self, account: str, client: str) -> None:
        """TooManySignIns if this account from this client has failed too often."""
        wait = await self.limiter.acquire(_key(account, client), count=False)
        if wait is not None:
            raise TooManySignIns(max(1, math.ceil(wait)))

    async def failed(self, account: str, client: str) -> None:
        await self.limiter.acquire(_key(account, client))

    async def close(self) -> None:
        await self.limiter.close()


def _key(account: str, client: str) -> str:
    # The account is a username key (at most 64 characters of [a-z0-9._@+-]): no separator
    # inside it can make two pairs one key.
    return f"{account}/{client}"
