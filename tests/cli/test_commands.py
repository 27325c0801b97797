"""The `heroes` command's `migrate`, `seed` and `users`, run as a user runs them, on each
backend."""

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db.migrator import head_revision, upgrade
from app.db.schema import FIRST_REVISION, database_revision
from app.heroes.models import Hero
from app.users.models import User
from tests.conftest import Completed, assert_one_line_error, run_python


def heroes(*arguments: str, input_text: str | None = None, **settings: str) -> Completed:
    return run_python("-m", "app", *arguments, input_text=input_text, **settings)


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["migrate"],
        ["migrate", "upgrade"],
        ["migrate", "downgrade"],
        ["migrate", "current"],
        ["seed"],
        ["users"],
        ["users", "create"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = heroes(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {' '.join(['heroes', *command])}"), result.stdout


def test_migrate_upgrade_downgrade_and_current(scratch_url: str, scratch_engine: Engine) -> None:
    head = head_revision()
    steps = [
        (["current"], f"database schema at base (the code needs {head})"),
        (["upgrade", FIRST_REVISION], f"database schema upgraded from base to {FIRST_REVISION}"),
        (["upgrade"], f"database schema upgraded from {FIRST_REVISION} to {head}"),
        (["upgrade"], f"database schema already at {head}"),
        (["current"], f"database schema at {head} (up to date)"),
        (["downgrade", FIRST_REVISION], f"database schema downgraded from {head} to 0001"),
        (["downgrade", "base"], f"database schema downgraded from {FIRST_REVISION} to base"),
    ]
    for arguments, said in steps:
        result = heroes("migrate", *arguments, DATABASE_URL=scratch_url)

        assert (result.returncode, result.stdout, result.stderr) == (0, f"{said}\n", "")

    assert database_revision(scratch_engine) is None


def test_seed_adds_n_varied_heroes(scratch_url: str, scratch_engine: Engine) -> None:
    upgrade(scratch_engine)  # a server database is migrated first, as the README says

    result = heroes("seed", "250", DATABASE_URL=scratch_url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 250 heroes in ")
    with Session(scratch_engine) as session:
        stored = list(session.exec(select(Hero)))
    assert len(stored) == 250
    assert len({hero.name for hero in stored}) > 100
    assert len({hero.secret_name for hero in stored}) > 100
    assert 0 < sum(hero.age is None for hero in stored) < 100
    assert all(0 <= hero.age < 200 for hero in stored if hero.age is not None)
    assert all(hero.created_at == hero.updated_at for hero in stored)


def test_seed_migrates_a_fresh_sqlite_database_first(tmp_path: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path}/heroes.db"

    result = heroes("seed", "10", DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    assert heroes("migrate", "current", DATABASE_URL=url).stdout.endswith("(up to date)\n")


def test_seed_refuses_a_server_database_that_is_not_migrated(server_scratch_url: str) -> None:
    result = heroes("seed", "10", DATABASE_URL=server_scratch_url)

    assert_one_line_error(result, "schema is at none", 'run "heroes migrate upgrade"')


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["migrate", "downgrade", "nope"], "heroes: Can't locate revision identified by 'nope'"),
        (["migrate", "upgrade", "0999"], "heroes: Can't locate revision identified by '0999'"),
        (["migrate", "downgrade"], "the following arguments are required: revision"),
        (["migrate", "sideways"], "invalid choice: 'sideways'"),
        (["seed", "-5"], "argument N: must be 0 or more: -5"),
        (["seed", "many"], "argument N: not a whole number: 'many'"),
        (["seed"], "the following arguments are required: N"),
    ],
)
def test_a_wrong_command_is_one_line_and_a_failure(
    tmp_path: pytest.TempPathFactory, arguments: list[str], said: str
) -> None:
    result = heroes(*arguments, DATABASE_URL=f"sqlite:///{tmp_path}/heroes.db")

    assert said in assert_one_line_error(result)


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"DATABASE_URL": "oracle://x/y"}, "heroes: invalid settings: DATABASE_URL"),
        (
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"},
            "heroes: cannot reach the database: ",
        ),
        ({"DATABASE_URL": "mariadb://root@127.0.0.1:1/x"}, "heroes: cannot reach the database: "),
    ],
)
@pytest.mark.parametrize("command", [["migrate", "upgrade"], ["seed", "1"]])
def test_a_bad_or_unreachable_database_is_one_line_and_a_failure(
    command: list[str], settings: dict[str, str], said: str
) -> None:
    result = heroes(*command, **settings)

    assert said in assert_one_line_error(result)


def test_users_create_makes_an_admin_who_can_sign_in(
    scratch_url: str, scratch_engine: Engine
) -> None:
    upgrade(scratch_engine)

    result = heroes(
        "users",
        "create",
        "Root",
        "--admin",
        input_text="a long password\n",
        DATABASE_URL=scratch_url,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created admin Root (id ")
    with Session(scratch_engine) as session:
        (user,) = session.exec(select(User)).all()
    assert (user.username, user.username_key, user.is_admin) == ("Root", "root", True)
    assert PasswordHash((Argon2Hasher(),)).verify("a long password", user.password_hash)
    assert "a long password" not in result.stdout + result.stderr


def test_users_create_refuses_a_taken_name_and_a_short_password_in_one_line(
    scratch_url: str, scratch_engine: Engine
) -> None:
    upgrade(scratch_engine)
    first = heroes(
        "users", "create", "root", input_text="a long password\n", DATABASE_URL=scratch_url
    )
    assert first.returncode == 0, first.stderr

    taken = heroes(
        "users", "create", "ROOT", input_text="a long password\n", DATABASE_URL=scratch_url
    )
    short = heroes("users", "create", "other", input_text="short\n", DATABASE_URL=scratch_url)

    assert_one_line_error(taken, "heroes: the username 'ROOT' is taken")
    assert_one_line_error(short, "heroes: invalid user: password")
