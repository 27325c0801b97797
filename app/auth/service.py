"""Signing in, refreshing and signing out: each function is one unit of work.

Refresh tokens rotate: a refresh marks its token used and adds the next one of the same
family in one transaction, and only if the token was unused, unexpired and its user is
still active (all in the UPDATE's own WHERE, so two refreshes racing with one token cannot
both win). A token that comes back after it was used revokes its whole family: whoever
holds a copy, the thief or the user, must sign in again.
"""

import re
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, true, update

from app.auth.errors import RefreshRefused, SignInFailed
from app.auth.models import REFRESH_TOKENS, RefreshToken, TokenPair
from app.auth.policy import Access
from app.auth.tokens import new_family, new_refresh_token, refresh_token_hash
from app.db import Database
from app.db.database import Results, Step, StepMissed
from app.db.statements import Statement
from app.db.tables import column
from app.users.models import USERNAME_MAX_LENGTH, USERNAME_PATTERN, User, username_key
from app.users.resource import CREDENTIALS

token_hash, token_family = column(RefreshToken.token_hash), column(RefreshToken.family)
token_user, token_used_at = column(RefreshToken.user_id), column(RefreshToken.used_at)
token_expires_at = column(RefreshToken.expires_at)

_PRESENTED = token_hash == bindparam("presented_hash")
ADD_TOKEN = Statement(
    insert(REFRESH_TOKENS).values(
        token_hash=bindparam("set_token_hash"),
        family=bindparam("set_family"),
        user_id=bindparam("set_user_id"),
        expires_at=bindparam("set_expires_at"),
    )
)
DROP_EXPIRED = Statement(
    delete(REFRESH_TOKENS).where(
        token_user == bindparam("user_id"), token_expires_at <= bindparam("now")
    )
)
_active_users = select(column(User.id)).where(column(User.is_active) == true())
USE_TOKEN = Statement(
    update(REFRESH_TOKENS)
    .where(
        _PRESENTED,
        token_used_at.is_(None),
        token_expires_at > bindparam("now"),
        token_user.in_(_active_users),
    )
    .values(used_at=bindparam("set_used_at"))
)
TOKEN = Statement(select(token_user, token_family, token_used_at).where(_PRESENTED))
FAMILY = Statement(select(token_family).where(_PRESENTED))
REVOKE_FAMILY = Statement(delete(REFRESH_TOKENS).where(token_family == bindparam("family")))


async def sign_in(
    database: Database, access: Access, username: str, password: str, client: str
) -> TokenPair:
    """A new pair for a user whose password this is; else SignInFailed, after the same
    work for an unknown user as for a wrong password, counted against the account and
    client (TooManySignIns past the limit)."""
    account = username_key(username)[:USERNAME_MAX_LENGTH]
    await access.throttle.check(account, client)
    row = None
    if re.fullmatch(USERNAME_PATTERN, username) and len(username) <= USERNAME_MAX_LENGTH:
        row = await database.fetch_one(CREDENTIALS, {"username_key": account})
    verified = await access.passwords.verify(password, None if row is None else row[1])
    if not verified or row is None or not row[2]:
        await access.throttle.failed(account, client)
        raise SignInFailed()
    return await _new_family(database, access, row[0])


async def refresh(database: Database, access: Access, token: str) -> TokenPair:
    """A new pair for an unused refresh token, which is used up; RefreshRefused else."""
    hashed = refresh_token_hash(token)
    now = access.tokens.clock()
    following = new_refresh_token()
    use = Step.updated(
        USE_TOKEN, TOKEN, {"presented_hash": hashed, "now": now, "set_used_at": now}, required=True
    )
    add = Step.count(ADD_TOKEN, lambda results: _next_of(results, following, now, access))
    try:
        results = await database.transaction([use, add])
    except StepMissed:
        await _revoke_if_reused(database, hashed)
        raise RefreshRefused() from None
    return _pair(access, results[0][0], following)


async def sign_out(database: Database, token: str) -> None:
    """Revoke the refresh token's family (its sign-in); an unknown token changes nothing."""
    family = Step.row(FAMILY, {"presented_hash": refresh_token_hash(token)})
    revoke = Step.count(REVOKE_FAMILY, lambda results: _family_of(results[0]))
    await database.transaction([family, revoke])


async def _new_family(database: Database, access: Access, user_id: int) -> TokenPair:
    token = new_refresh_token()
    now = access.tokens.clock()
    params = _token_params(token, new_family(), user_id, now, access.refresh_days)
    # A user's expired tokens are cleared as they sign in again: the table stays small.
    await database.transaction(
        [Step.count(DROP_EXPIRED, {"user_id": user_id, "now": now}), Step.count(ADD_TOKEN, params)]
    )
    return _pair(access, user_id, token)


def _next_of(results: Results, token: str, now: datetime, access: Access) -> dict[str, object]:
    user_id, family, _used_at = results[0]
    return _token_params(token, family, user_id, now, access.refresh_days)


def _token_params(
    token: str, family: str, user_id: int, now: datetime, days: int
) -> dict[str, object]:
    return {
        "set_token_hash": refresh_token_hash(token),
        "set_family": family,
        "set_user_id": user_id,
        "set_expires_at": now + timedelta(days=days),
    }


def _family_of(row: tuple[object, ...] | None) -> dict[str, object] | None:
    return None if row is None else {"family": row[0]}


async def _revoke_if_reused(database: Database, hashed: str) -> None:
    """A refresh token that was used already, presented again: revoke its family."""
    row = await database.fetch_one(TOKEN, {"presented_hash": hashed})
    if row is not None and row[2] is not None:
        await database.write(REVOKE_FAMILY, {"family": row[1]})


def _pair(access: Access, user_id: int, refresh_token: str) -> TokenPair:
    return TokenPair(
        access_token=access.tokens.issue(user_id),
        token_type="bearer",  # noqa: S106  # the token type's name, not a secret
        expires_in=int(access.tokens.lifetime.total_seconds()),
        refresh_token=refresh_token,
    )
