"""What a token costs a read: GET one hero with a valid token under READ_POLICY=signed_in,
against the same GET without one under the defaults, in-process, side by side.

    .venv/bin/python bench/tokens.py                  # CPU µs per request, and the ratio
    .venv/bin/python bench/tokens.py --database postgresql://postgres@127.0.0.1/heroes_tokens

Two apps of this tree answer in turn, several rounds each, on one database of 1,000 seeded
heroes (bench/inprocess.py's seeding and its way of calling an app): the default one, and
one with READ_POLICY=signed_in that checks the token's signature and expiry and reads the
user's row by primary key (app/auth/policy.py). The target (issue 17) is a ratio of
medians of at most 1.15. A `--database` is emptied first: give it one of its own.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
from typing import Any

from bench.inprocess import REQUESTS, _interleaved, _prepare_database, _timed

TARGET = 1.15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--database", help="a server database URL (default: a SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heroes-tokens-") as directory:
        os.environ["DATABASE_URL"] = args.database or f"sqlite:///{directory}/heroes.db"
        os.environ["ENVIRONMENT"] = "test"
        _prepare_database()
        asyncio.run(_measure(args))


async def _measure(args: argparse.Namespace) -> None:
    from app.config import load_settings  # noqa: PLC0415  # after DATABASE_URL is set
    from app.main import create_app  # noqa: PLC0415

    plain = create_app(load_settings())
    signed_in = create_app(load_settings(read_policy="signed_in"))
    async with plain.router.lifespan_context(plain), signed_in.router.lifespan_context(signed_in):
        token = await _token_of_a_new_user(signed_in)
        method, path, query, body, headers = REQUESTS["get_one"]
        with_token = (method, path, query, body, [*headers, (b"authorization", token)])
        rounds = [
            _timed(plain, REQUESTS["get_one"], args.requests),
            _timed(signed_in, with_token, args.requests),
        ]
        without, with_ = await _interleaved(rounds, args.rounds)
    print(f"CPU µs per request, least and median of {args.rounds} rounds of {args.requests}:")
    for label, figures in (("without a token", without), ("with a token", with_)):
        print(f"  GET one {label:<18} {min(figures):7.1f} {statistics.median(figures):7.1f}")
    ratio = statistics.median(with_) / statistics.median(without)
    print(f"  ratio of medians {ratio:.3f} (target: at most {TARGET})")


async def _token_of_a_new_user(app: Any) -> bytes:
    from app.users.models import UserCreate  # noqa: PLC0415
    from app.users.service import create_user  # noqa: PLC0415

    access = app.state.access
    user = await create_user(
        app.state.database, access.passwords, UserCreate(username="bench", password="x" * 12)
    )
    return f"Bearer {access.tokens.issue(user.id)}".encode()


if __name__ == "__main__":
    main()
