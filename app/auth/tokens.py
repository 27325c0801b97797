"""Access tokens (JWTs) and refresh tokens (random strings, stored hashed).

An access token is a JWT signed with HS256 and nothing else: decoding names that one
algorithm, so a token that says `none`, or RS256 with the key as a "public key", is
refused. It carries `sub` (the user's id), `iat`, `exp` and `jti`, and every claim is
required. It says nothing of the user's rights: those are read with the user's row on each
request (app/auth/policy.py), so that a deactivated or deleted user's tokens stop at once.

A token checked once is remembered (its user and expiry, by the token's exact text) by
each AccessTokens, the last VERIFIED_TOKENS of them: pyjwt's decoding is 130 µs of CPU a
request, 90% of what a token cost GET one, while a client sends the same token for its whole
life. Decoding is a pure function of the token and the key, so what is remembered is what
decoding would say again; expiry is still compared with the clock on every request. Refused
tokens are never remembered. bench/PROFILE.md, "A token on GET one"; `bench/tokens.py`.

A refresh token is 32 random bytes; only its SHA-256 is stored (app/auth/models.py).
"""

import hashlib
import re
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from app.auth.errors import TokenRefused

ALGORITHM = "HS256"
ACCESS_TOKEN_MAX_LENGTH = 1024  # ours are about 200 characters; longer is refused unread
VERIFIED_TOKENS = 10_000  # remembered per worker: about 4 MB at most
_CLAIMS = ("sub", "exp", "iat", "jti")


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AccessTokens:
    """Issues and reads access tokens; `clock` is what tests move instead of sleeping."""

    key: str
    lifetime: timedelta
    clock: Callable[[], datetime] = utc_clock
    verified: "OrderedDict[str, tuple[int, int]]" = field(default_factory=OrderedDict)
    """Tokens checked already: their user's id and expiry, least recently used first."""

    def issue(self, user_id: int) -> str:
        now = self.clock()
        claims = {
            "sub": str(user_id),
            "iat": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)

    def user_of(self, token: str) -> int:
        """The id of the user a token was issued to, or TokenRefused."""
        return self.holder_of(token)[0]

    def holder_of(self, token: str) -> tuple[int, float]:
        """The id of the user a token was issued to, and the seconds it stays valid; or
        TokenRefused."""
        known = self.verified.get(token)
        if known is None:
            known = self._verify(token)
            self.verified[token] = known
            if len(self.verified) > VERIFIED_TOKENS:
                self.verified.popitem(last=False)
        else:
            self.verified.move_to_end(token)
        user_id, expires = known
        left = expires - self.clock().timestamp()
        if left <= 0:
            raise TokenRefused()
        return user_id, left

    def _verify(self, token: str) -> tuple[int, int]:
        """The user's id and the expiry a token carries, if its signature and claims hold
        (not its expiry: `user_of` compares that), else TokenRefused."""
        if len(token) > ACCESS_TOKEN_MAX_LENGTH:
            raise TokenRefused()
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                options={"require": list(_CLAIMS), "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            raise TokenRefused() from None
        # Expiry is compared by `user_of`, with `clock` (pyjwt's check reads the system's).
        expires, subject = claims["exp"], claims["sub"]
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise TokenRefused()
        if not isinstance(subject, str) or not re.fullmatch(r"[1-9][0-9]{0,18}", subject):
            raise TokenRefused()
        return int(subject), expires


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_family() -> str:
    return secrets.token_hex(16)


def refresh_token_hash(token: str) -> str:
    """What the table keeps of a refresh token: enough to find it, not to use it."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
