"""The dashboard's users file (password mode): who may log in, with which role and password hash.

    users:
      ana:
        role: operator
        password_hash: "scrypt:32768:8:1$..."

Passwords are stored only as werkzeug scrypt hashes (`lytte users add` makes them); a file with anything else
where a hash belongs is refused, so a plain password typed into the file never works. Errors name the file
and the line. The file is rewritten whole by `add_user` (comments are not kept), readable by its owner only.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import hashlib
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("viewer", "operator", "supervisor")  # the same order as dashboards.auth.ROLES (auth imports this)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_CHARS = 8
HASH_METHODS = ("scrypt:", "pbkdf2:")  # what werkzeug's check_password_hash understands
FIELDS = ("role", "password_hash")


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file and, where there is one, the line."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str

    def check(self, password: str) -> bool:
        """Constant-time check of `password` against the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def fingerprint(self) -> str:
        """A short digest of the hash, kept in the session: a new password ends the sessions made with the
        old one. Scenario: two accounts differing only in password_hash have different fingerprints."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


def hash_password(password: str) -> str:
    return generate_password_hash(password)


@functools.cache
def dummy_hash() -> str:
    """A hash made like the real ones (made once; the password server calls this at start so that the first
    unknown name is not slower than the rest)."""
    return generate_password_hash(secrets.token_urlsafe(16))


def dummy_check(password: str) -> bool:
    """Spend the time of a real check for a user name that does not exist (always False), so that the answer
    time does not tell which names exist."""
    check_password_hash(dummy_hash(), password)
    return False


def check_new_password(password: str) -> None:
    """Scenario: "short" -> UsersFileError (at least 8 characters); "correct horse" -> None."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsersFileError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")


def check_name(name: str) -> None:
    """Scenario: "ana.b@ops" passes; "ana b", "" and "-x" raise UsersFileError."""
    if not NAME_PATTERN.match(name):
        raise UsersFileError(
            f"user name {name!r}: 1-64 of letters, digits and . _ @ - (starting with a letter or digit)"
        )


def _where(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _scalar(path: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise UsersFileError(f"{_where(path, node)}: {what} must be a string")
    return node.value


def _pairs(path: Path, node: yaml.Node, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise UsersFileError(f"{_where(path, node)}: {what} must be a mapping")
    seen: set[str] = set()
    for key, _ in node.value:
        name = _scalar(path, key, "a key")
        if name in seen:
            raise UsersFileError(f"{_where(path, key)}: {name!r} appears twice in {what}")
        seen.add(name)
    return node.value


def parse_users(text: str, path: Path) -> dict[str, Account]:
    """The accounts in a users file's text; `path` is only used in error messages.

    Scenario: 'users:\\n  ana:\\n    role: pilot\\n    password_hash: "scrypt:1$a$b"\\n' ->
    UsersFileError("users.yaml:3: ana: role 'pilot' is not one of viewer, operator, supervisor").
    An empty file or `users: {}` -> {}.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise UsersFileError(f"{path}{line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise UsersFileError(f"{path}: not valid YAML: {exc}") from None
    if root is None:
        return {}
    users_node = None
    for key, value in _pairs(path, root, "the file"):
        if key.value != "users":
            raise UsersFileError(f"{_where(path, key)}: unknown key {key.value!r} (the file has one key: users)")
        users_node = value
    if users_node is None or (isinstance(users_node, yaml.ScalarNode) and users_node.value in ("", "~", "null")):
        return {}
    accounts = {}
    for name_node, fields_node in _pairs(path, users_node, "users"):
        name = name_node.value
        try:
            check_name(name)
        except UsersFileError as exc:
            raise UsersFileError(f"{_where(path, name_node)}: {exc}") from None
        fields = {}
        for key, value in _pairs(path, fields_node, f"user {name}"):
            if key.value not in FIELDS:
                raise UsersFileError(f"{_where(path, key)}: {name}: unknown field {key.value!r} (role, password_hash)")
            fields[key.value] = (_scalar(path, value, f"{name}: {key.value}"), value)
        for field in FIELDS:
            if field not in fields:
                raise UsersFileError(f"{_where(path, fields_node)}: {name}: {field} is missing")
        role, role_node = fields["role"]
        if role not in ROLES:
            raise UsersFileError(f"{_where(path, role_node)}: {name}: role {role!r} is not one of {', '.join(ROLES)}")
        password_hash, hash_node = fields["password_hash"]
        if not password_hash.startswith(HASH_METHODS) or password_hash.count("$") != 2:
            # never echo the value: it may be a password typed in by hand
            raise UsersFileError(
                f"{_where(path, hash_node)}: {name}: password_hash is not a werkzeug scrypt hash "
                "(set passwords with `lytte users add NAME --role ROLE`)"
            )
        accounts[name] = Account(name, role, password_hash)
    return accounts


def load_users(path: Path) -> dict[str, Account]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsersFileError(
            f"{path}: no such users file (create it with `lytte users add NAME --role ROLE`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsersFileError(f"{path}: cannot read the users file: {exc}") from None
    return parse_users(text, path)


def _write(path: Path, accounts: dict[str, Account]) -> None:
    """Replace the file whole (a reader never sees half a file), readable by its owner only."""
    data = {"users": {a.name: {"role": a.role, "password_hash": a.password_hash} for a in accounts.values()}}
    text = yaml.safe_dump(data, sort_keys=True, default_flow_style=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_user(path: Path, name: str, role: str, password: str, *, replace: bool = False) -> Account:
    """Add `name` with `role` and a hash of `password` to the users file (created if missing); an existing
    name is refused unless `replace` (a new password or role)."""
    check_name(name)
    if role not in ROLES:
        raise UsersFileError(f"role {role!r} is not one of {', '.join(ROLES)}")
    check_new_password(password)
    accounts = load_users(path) if path.exists() else {}
    if name in accounts and not replace:
        raise UsersFileError(f"{path}: user {name} exists (--replace sets a new password and role)")
    accounts[name] = Account(name, role, hash_password(password))
    _write(path, accounts)
    return accounts[name]


# -- lytte users ---------------------------------------------------------------------------------------------


def add_users_parser(subparsers: argparse._SubParsersAction) -> None:
    users = subparsers.add_parser("users", help="the dashboard's users (password mode): add, list")
    actions = users.add_subparsers(dest="action", required=True)
    p = actions.add_parser("add", help="add a user (asks for the password twice)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.add_argument("--replace", action="store_true", help="the user exists: set a new password and role")
    p.add_argument("--file", type=Path, help="the users file (default: LYTTE_DASHBOARD_USERS_FILE)")
    p.set_defaults(func=cmd_users)
    p = actions.add_parser("list", help="users and their roles")
    p.add_argument("--file", type=Path, help="the users file (default: LYTTE_DASHBOARD_USERS_FILE)")
    p.set_defaults(func=cmd_users)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsersFileError("the two passwords differ")
    return first


def _users_file(args: argparse.Namespace) -> Path:
    if args.file is not None:
        return args.file
    from pydantic import ValidationError

    from schemas.settings import Settings

    try:
        path = Settings().dashboard_users_file
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UsersFileError(f"environment: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    if path is None:
        raise UsersFileError("no users file: set LYTTE_DASHBOARD_USERS_FILE or pass --file")
    return path


def cmd_users(args: argparse.Namespace) -> None:
    """`lytte users add NAME --role R` and `lytte users list`; errors are one line on stderr, exit code 2."""
    try:
        path = _users_file(args)
        if args.action == "add":
            password = _read_password(args.password_stdin)
            account = add_user(path, args.name, args.role, password, replace=args.replace)
            print(f"users: {account.name} ({account.role}) saved in {path}")
        else:
            for account in sorted(load_users(path).values(), key=lambda a: a.name):
                print(f"{account.name}\t{account.role}")
    except UsersFileError as exc:
        print(f"lytte: {exc}", file=sys.stderr)
        sys.exit(2)
