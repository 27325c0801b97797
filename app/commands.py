"""`heroes migrate`, `heroes seed` and `heroes users create`: managing the database from
the shell.

Each command prints what it did on stdout; a failure is one line on stderr and exit 1.
"""

import argparse
import getpass
import random
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.config import load_settings
from app.db.backends import create_db_engine
from app.db.errors import constraint_violation
from app.db.migrator import downgrade, head_revision, upgrade
from app.db.schema import (
    SchemaError,
    database_revision,
    describe_database_error,
    prepare_database,
)
from app.db.tables import utc_now
from app.heroes.models import AGE_MAX, Hero
from app.users.models import UserCreate
from app.users.service import create_user_now

ROWS_PER_STATEMENT = 10_000  # one executemany
ROWS_PER_TRANSACTION = 100_000


class CommandFailed(Exception):
    """A command could not do what it was asked; the message is one line."""


def add_commands(commands: "argparse._SubParsersAction[Any]") -> None:
    """Add `migrate` and `seed` to the `heroes` parser."""
    migrate = commands.add_parser(
        "migrate",
        help="change the database schema (upgrade, downgrade, current)",
        description="Alembic migrations on the database named by DATABASE_URL.",
    )
    steps = migrate.add_subparsers(dest="step", required=True, metavar="STEP")
    up = steps.add_parser("upgrade", help="upgrade the schema (to the code's head by default)")
    up.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    up.set_defaults(run=_upgrade)
    down = steps.add_parser("downgrade", help="downgrade the schema to REVISION")
    down.add_argument("revision", help='target revision; "base" removes every table')
    down.set_defaults(run=_downgrade)
    current = steps.add_parser("current", help="print the schema's revision and the code's")
    current.set_defaults(run=_current)
    seed = commands.add_parser(
        "seed",
        help="add N generated heroes",
        description="Add N realistic heroes, in batches of 10,000 rows (about 20 s a million).",
    )
    seed.add_argument("count", type=_count, metavar="N", help="how many heroes to add")
    seed.set_defaults(run=_seed)
    users = commands.add_parser("users", help="manage users (create the first admin)")
    user_steps = users.add_subparsers(dest="step", required=True, metavar="STEP")
    create = user_steps.add_parser(
        "create",
        help="create a user",
        description=(
            "Create a user. The password is asked for twice on a terminal, or read from "
            "the first line of standard input (echo ... | heroes users create NAME)."
        ),
    )
    create.add_argument("username", metavar="NAME", help="3 to 64 of A-Z a-z 0-9 . _ @ + -")
    create.add_argument("--admin", action="store_true", help="make the user an admin")
    create.set_defaults(run=_create_user)


def run_command(args: argparse.Namespace) -> None:
    """Run a parsed `migrate` or `seed` command, raising CommandFailed on failure."""
    engine = create_db_engine(load_settings())
    try:
        args.run(engine, args)
    except (SchemaError, CommandError) as error:
        raise CommandFailed(str(error).splitlines()[0]) from None
    except SQLAlchemyError as error:
        raise CommandFailed(describe_database_error(error)) from None
    finally:
        engine.dispose()


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text}")
    return value


def _upgrade(engine: Engine, args: argparse.Namespace) -> None:
    before, after = upgrade(engine, args.revision)
    print(_change("upgraded", before, after))


def _downgrade(engine: Engine, args: argparse.Namespace) -> None:
    before, after = downgrade(engine, args.revision)
    print(_change("downgraded", before, after))


def _change(verb: str, before: str | None, after: str | None) -> str:
    if before == after:
        return f"database schema already at {after or 'base'}"
    return f"database schema {verb} from {before or 'base'} to {after or 'base'}"


def _current(engine: Engine, _args: argparse.Namespace) -> None:
    current, head = database_revision(engine), head_revision()
    state = "up to date" if current == head else f"the code needs {head}"
    print(f"database schema at {current or 'base'} ({state})")


def _create_user(engine: Engine, args: argparse.Namespace) -> None:
    try:
        data = UserCreate(username=args.username, password=_read_password())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise CommandFailed(f"invalid user: {problems}") from None
    prepare_database(engine, migrate=load_settings().migrate_on_start)
    try:
        user_id = create_user_now(engine, data, is_admin=args.admin)
    except IntegrityError as error:
        if constraint_violation(error) is None:
            raise
        raise CommandFailed(f"the username {data.username!r} is taken") from None
    role = "admin" if args.admin else "user"
    print(f"created {role} {data.username} (id {user_id})")


def _read_password() -> str:
    """Twice from a terminal, without echo; else the first line of standard input."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != password:
        raise CommandFailed("the two passwords differ")
    return password


def _seed(engine: Engine, args: argparse.Namespace) -> None:
    prepare_database(engine, migrate=load_settings().migrate_on_start)
    started = time.perf_counter()
    rows = generate_heroes(args.count, utc_now())
    statement = insert(Hero)
    while transaction := list(islice(rows, ROWS_PER_TRANSACTION)):
        with engine.begin() as connection:
            for start in range(0, len(transaction), ROWS_PER_STATEMENT):
                connection.execute(statement, transaction[start : start + ROWS_PER_STATEMENT])
    seconds = time.perf_counter() - started
    print(f"added {args.count} heroes in {seconds:.1f} s")


_TITLES = (
    "Captain", "Doctor", "Mister", "Lady", "Professor", "Agent", "Major", "Madame",
    "Sergeant", "Baron", "Queen", "King", "Little", "Big", "Young", "Mighty",
)  # fmt: skip
_WORDS = (
    "Iron", "Night", "Star", "Shadow", "Silver", "Thunder", "Crimson", "Frost", "Storm",
    "Steel", "Solar", "Lunar", "Blaze", "Quantum", "Atomic", "Spectral", "Golden", "Venom",
    "Phantom", "Cosmic", "Ember", "Tidal", "Echo", "Nova",
)  # fmt: skip
_NOUNS = (
    "Falcon", "Hawk", "Wolf", "Blade", "Fist", "Arrow", "Comet", "Spider", "Panther",
    "Raven", "Tiger", "Serpent", "Knight", "Ranger", "Sentinel", "Wraith", "Owl", "Cobra",
    "Hammer", "Viper", "Fox", "Lynx", "Mantis", "Titan",
)  # fmt: skip
_FIRST = (
    "Dive", "Tommy", "Pedro", "Rusty", "Maria", "Aiko", "Olu", "Chen", "Fatima", "Lars",
    "Ingrid", "Kwame", "Sofia", "Mateo", "Yara", "Dmitri", "Priya", "Noah", "Amara", "Jonas",
    "Lucía", "Hiroshi", "Zoë", "Émile", "Siobhán", "Ravi", "Leilani", "Omar", "Nadia", "Björn",
)  # fmt: skip
_LAST = (
    "Wilson", "Sharp", "Parqueador", "Man", "Okafor", "Tanaka", "Nguyen", "Haddad", "Müller",
    "Kowalski", "García", "Rossi", "Johansson", "Mensah", "Ivanova", "Patel", "O'Brien",
    "Silva", "Kim", "Dubois", "Novak", "Cohen", "Moreau", "Abara", "Lindqvist", "Reyes",
)  # fmt: skip
_SUFFIXES = ("", "", "", "", "", "", " II", " Jr.", " the Second", " Prime")


def generate_heroes(count: int, now: datetime, seed: int = 4) -> Iterator[dict[str, Any]]:
    """`count` heroes as rows: varied names and secret names, ages with some unknown."""
    rng = random.Random(seed)  # noqa: S311  # test data, not secrets
    for _ in range(count):
        yield {
            "name": _hero_name(rng),
            "secret_name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            "age": None if rng.random() < 0.15 else rng.randint(16, min(95, AGE_MAX)),
            "created_at": now,
            "updated_at": now,
        }


def _hero_name(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.4:
        name = f"{rng.choice(_WORDS)}{rng.choice(_NOUNS).lower()}"
    elif shape < 0.75:
        name = f"{rng.choice(_TITLES)} {rng.choice(_WORDS)}"
    else:
        name = f"The {rng.choice(_WORDS)} {rng.choice(_NOUNS)}"
    return name + rng.choice(_SUFFIXES)
