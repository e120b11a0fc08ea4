"""The users file: load errors name the file and the line; add_user round trip; `lytte users`."""

from __future__ import annotations

import argparse
import io
import stat
from pathlib import Path

import pytest

from dashboards import users
from dashboards.users import UsersFileError, add_user, load_users, parse_users

HASH = "scrypt:32768:8:1$c2FsdHNhbHQ$" + "ab" * 32  # the shape of a werkzeug hash; no real password behind it


def file_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def error_of(text: str) -> str:
    with pytest.raises(UsersFileError) as info:
        parse_users(text, Path("conf/users.yaml"))
    return str(info.value)


def test_a_good_file_loads():
    text = file_text(
        "users:",
        "  ana:",
        "    role: operator",
        f'    password_hash: "{HASH}"',
        "  bo.b@ops:",
        "    role: viewer",
        f"    password_hash: '{HASH}'",
    )
    accounts = parse_users(text, Path("users.yaml"))
    assert {a.name: a.role for a in accounts.values()} == {"ana": "operator", "bo.b@ops": "viewer"}
    assert accounts["ana"].password_hash == HASH


@pytest.mark.parametrize("text", ["", "users:\n", "users: {}\n", "# nobody yet\n"])
def test_an_empty_file_has_no_users(text):
    assert parse_users(text, Path("users.yaml")) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            file_text("users:", "  ana:", "    role: pilot", f"    password_hash: {HASH}"),
            "conf/users.yaml:3: ana: role 'pilot' is not one of viewer, operator, supervisor",
        ),
        (file_text("users:", "  ana:", "    role: viewer"), "conf/users.yaml:3: ana: password_hash is missing"),
        (
            file_text("users:", "  ana:", "    role: viewer", f"    password_hash: {HASH}", "    email: a@b"),
            "conf/users.yaml:5: ana: unknown field 'email'",
        ),
        (
            file_text("users:", "  ana:", "    role: viewer", f"    password_hash: {HASH}", "  ana:", "    role: x"),
            "conf/users.yaml:5: 'ana' appears twice in users",
        ),
        (file_text("users:", "  ana: viewer"), "conf/users.yaml:2: user ana must be a mapping"),
        (file_text("users:", "  - ana"), "conf/users.yaml:2: users must be a mapping"),
        (file_text("people:", "  ana: {}"), "conf/users.yaml:1: unknown key 'people'"),
        (
            file_text("users:", "  ana:", "    role: [viewer]", f"    password_hash: {HASH}"),
            "conf/users.yaml:3: ana: role must be a string",
        ),
        (
            file_text("users:", "  ana b:", "    role: viewer", f"    password_hash: {HASH}"),
            "conf/users.yaml:2: user name 'ana b'",
        ),
        (file_text("users:", "  ana:", "    role: viewer", "    password_hash: [oops"), "conf/users.yaml:5: not valid"),
    ],
)
def test_errors_name_the_file_and_the_line(text, expected):
    assert error_of(text).startswith(expected)


def test_a_plain_password_where_the_hash_belongs_is_refused_and_not_echoed():
    message = error_of(file_text("users:", "  ana:", "    role: viewer", "    password_hash: hunter2hunter2"))
    assert message.startswith("conf/users.yaml:4: ana: password_hash is not a werkzeug scrypt hash")
    assert "hunter2" not in message


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(UsersFileError, match=r"nowhere\.yaml: no such users file"):
        load_users(tmp_path / "nowhere.yaml")


def test_add_user_round_trip(tmp_path):
    path = tmp_path / "conf" / "users.yaml"
    add_user(path, "ana", "operator", "correct horse battery")
    add_user(path, "bo", "viewer", "another long one")
    accounts = load_users(path)
    assert {a.name: a.role for a in accounts.values()} == {"ana": "operator", "bo": "viewer"}
    assert accounts["ana"].check("correct horse battery")
    assert not accounts["ana"].check("correct horse battery ")
    assert accounts["ana"].password_hash.startswith("scrypt:")
    assert "correct horse" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["users.yaml"]  # no temporary file left


def test_add_user_refuses_an_existing_name_unless_replacing(tmp_path):
    path = tmp_path / "users.yaml"
    first = add_user(path, "ana", "viewer", "first password")
    with pytest.raises(UsersFileError, match="user ana exists"):
        add_user(path, "ana", "operator", "second password")
    second = add_user(path, "ana", "operator", "second password", replace=True)
    assert load_users(path)["ana"] == second
    assert second.fingerprint != first.fingerprint
    assert load_users(path)["ana"].check("second password")


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("ana", "viewer", "short", "at least 8 characters"),
        ("ana", "admin", "long enough", "role 'admin'"),
        ("-ana", "viewer", "long enough", "user name '-ana'"),
    ],
)
def test_add_user_refuses_bad_input_and_writes_nothing(tmp_path, name, role, password, message):
    path = tmp_path / "users.yaml"
    with pytest.raises(UsersFileError, match=message):
        add_user(path, name, role, password)
    assert not path.exists()


def test_add_user_refuses_to_touch_a_broken_file(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  ana:\n    role: pilot\n")
    with pytest.raises(UsersFileError, match=r"users\.yaml:3"):
        add_user(path, "bo", "viewer", "long enough")
    assert path.read_text() == "users:\n  ana:\n    role: pilot\n"


# -- lytte users ----------------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lytte")
    users.add_users_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def test_cli_add_from_stdin_then_list(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.yaml"
    monkeypatch.setattr("sys.stdin", io.StringIO("a stdin password\n"))
    args = parse("users", "add", "ana", "--role", "supervisor", "--password-stdin", "--file", str(path))
    args.func(args)
    assert load_users(path)["ana"].check("a stdin password")
    args = parse("users", "list", "--file", str(path))
    args.func(args)
    out = capsys.readouterr().out
    assert out.endswith("ana\tsupervisor\n")
    assert "scrypt" not in out and "a stdin password" not in out


def test_cli_asks_twice_and_refuses_two_different_passwords(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.yaml"
    answers = iter(["first password", "second password"])
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt: next(answers))
    args = parse("users", "add", "ana", "--role", "viewer", "--file", str(path))
    with pytest.raises(SystemExit) as info:
        args.func(args)
    assert info.value.code == 2
    assert capsys.readouterr().err == "lytte: the two passwords differ\n"
    assert not path.exists()


def test_cli_takes_the_file_from_the_settings_and_says_when_there_is_none(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("LYTTE_DASHBOARD_USERS_FILE", raising=False)
    args = parse("users", "list")
    with pytest.raises(SystemExit):
        args.func(args)
    assert "set LYTTE_DASHBOARD_USERS_FILE or pass --file" in capsys.readouterr().err

    monkeypatch.setenv("LYTTE_DASHBOARD_USERS_FILE", str(tmp_path / "u.yaml"))
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough"))
    args = parse("users", "add", "bo", "--role", "viewer", "--password-stdin")
    args.func(args)
    assert load_users(tmp_path / "u.yaml")["bo"].role == "viewer"
