"""`python -m bot staff create-admin|add-user` and `python -m bot audit verify`.

Passwords come from the environment (BOT_ADMIN_PASSWORD / BOT_USER_PASSWORD) or a prompt,
never from the command line (it would sit in the shell history and in `ps`). There is no
default password: the first admin exists only once someone runs create-admin.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot import db
from bot.config import settings


def add_parsers(sub) -> None:
    p = sub.add_parser("staff", help="staff console accounts")
    ssub = p.add_subparsers(dest="staff_command", required=True)
    a = ssub.add_parser("create-admin", help="create an admin (password from BOT_ADMIN_PASSWORD or a prompt)")
    a.add_argument("--username", required=True)
    a.add_argument("--display-name", default="")
    u = ssub.add_parser("add-user", help="create a staff user (password from BOT_USER_PASSWORD or a prompt)")
    u.add_argument("--username", required=True)
    u.add_argument("--role", required=True, choices=["handler", "operator", "curator", "broadcaster", "admin"])
    u.add_argument("--agency", help="agency id from knowledge_base/agencies.yml (required for handler)")
    u.add_argument("--display-name", default="")
    p = sub.add_parser("audit", help="the staff access log")
    asub = p.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="check the hash chain; exit 1 naming the first broken entry")


def _password(env: str) -> str:
    value = getattr(settings(), env.removeprefix("BOT_").lower())  # BOT_ADMIN_PASSWORD: admin_password
    if value:
        return value
    if not sys.stdin.isatty():
        raise SystemExit(f"set {env} or run in a terminal to be prompted")
    first = getpass.getpass("密碼 password: ")
    if first != getpass.getpass("再輸入一次 again: "):
        raise SystemExit("passwords differ")
    return first


def run_staff(args: argparse.Namespace) -> int:
    from bot.staff import accounts

    db.create_tables()
    role = "admin" if args.staff_command == "create-admin" else args.role
    agency = None if args.staff_command == "create-admin" else args.agency
    password = _password("BOT_ADMIN_PASSWORD" if args.staff_command == "create-admin" else "BOT_USER_PASSWORD")
    try:
        user = accounts.create_user(args.username, password, role, agency, args.display_name)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created {user.role} {user.username} (id {user.id})")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from bot.staff import audit

    db.create_tables()
    try:
        result = audit.verify()
    except Exception as exc:  # noqa: BLE001 - e.g. Redis (the outside head) unreachable: say so, no traceback
        print(f"audit chain NOT checked: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"audit chain ok: {result.count} entries")
        return 0
    print(f"audit chain BROKEN at seq {result.broken_seq}: {result.reason} ({result.count} entries checked before it)")
    return 1
