"""Command line: `python -m bot run|part|route|youth-search|train|import-cases|retention|db|staff|audit`."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot", description="便民一路通 city-service assistant")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run Rasa, the action server and the gateway (Ctrl-C stops all)")
    p.add_argument("--no-train", action="store_true", help="use the newest trained model as it is")
    p = sub.add_parser("part", help="run one part in the foreground (deploy/: one container per part)")
    p.add_argument("name", choices=["actions", "rasa", "gateway"])
    p = sub.add_parser("route", help="route texts: JSON lines {id, text} on stdin → decisions on stdout")
    p.add_argument("--jsonl", action="store_true", required=True)
    p.add_argument("--model", help="a trained model (default: the one for the current data)")
    p = sub.add_parser("youth-search", help="youth programme search: JSON lines {id, text} → results")
    p.add_argument("--jsonl", action="store_true", required=True)
    p = sub.add_parser("train", help="train the Rasa model if the data changed")
    p.add_argument("--force", action="store_true")
    p.add_argument("--out-dir", help="train a candidate there, leaving the live models alone (retrain job)")
    p.add_argument("--build-dir", help="where the Rasa project is assembled (default build/rasa)")
    p.add_argument("--only", choices=["rasa", "classifiers"],
                   help="only Rasa's model, or only the classifiers (act, emergency): set-up runs both at once")
    p = sub.add_parser("import-cases", help="add a city's labelled historical cases as training data")
    p.add_argument("file")
    p.add_argument("--out-dir", help="where the examples go (default nlu_data/imported)")
    p = sub.add_parser("retention", help="delete photos and personal fields of cases closed N days ago")
    p.add_argument("--days", type=int, help="N (default BOT_RETENTION_DAYS, 365; 0 = off)")
    p.add_argument("--dry-run", action="store_true", help="count, change nothing")
    p = sub.add_parser("db", help="our database's schema (Alembic revisions in bot/migrations)")
    p.add_argument("action", choices=["upgrade"], help="upgrade: bring BOT_DATABASE_URL to the newest revision")
    from bot.staff import cli as staff_cli  # `staff create-admin|add-user`, `audit verify`

    staff_cli.add_parsers(sub)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)

    if args.command == "run":
        from bot.supervisor import run

        return run(train_first=not args.no_train)
    if args.command == "part":
        from bot.supervisor import part

        return part(args.name)
    if args.command == "route":
        from pathlib import Path

        from bot.nlu.route_cli import run as route

        route(model=Path(args.model) if args.model else None)
        return 0
    if args.command == "youth-search":
        from bot.youth.cli import run as youth_search

        youth_search()
        return 0
    if args.command == "train":
        from pathlib import Path

        from bot.training import train, train_classifiers

        if args.only == "classifiers":
            train_classifiers(args.force)
            return 0
        print(train(force=args.force, out_dir=Path(args.out_dir) if args.out_dir else None,
                    build_dir=Path(args.build_dir) if args.build_dir else None, classifiers=args.only != "rasa"))
        return 0
    if args.command == "import-cases":
        from pathlib import Path

        from bot.nlu.import_cases import run as import_cases

        return import_cases(args.file, Path(args.out_dir) if args.out_dir else None)
    if args.command == "retention":
        from bot import db
        from bot.cases.retention import purge

        if not db.create_tables():
            print("database unavailable: nothing purged", file=sys.stderr)
            return 1
        done = purge(days=args.days, dry_run=args.dry_run)
        print(f"{'would purge' if args.dry_run else 'purged'} {done.cases} case(s) closed over {done.days} days ago,"
              f" {done.photos} photo(s), {done.transcript_rows} transcript row(s)")
        return 0
    if args.command == "db":
        from bot import db, migrate

        try:
            before = migrate.upgrade(db.engine())
        except Exception as exc:  # noqa: BLE001 - one line, not a traceback, for set-up's log
            print(f"database upgrade failed: {type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)
            return 1
        print(f"database at {migrate.head()}" + ("" if before == migrate.head() else f" (was {before or 'none'})"))
        return 0
    if args.command == "staff":
        return staff_cli.run_staff(args)
    if args.command == "audit":
        return staff_cli.run_audit(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
