"""The retrain job: train a candidate model on the data as it is now (curated examples
included), score it against the live model on the same held-out texts, and make it live
only if it is not worse.

One job at a time, in a background thread of the gateway; its state is a row in
`retrain_jobs` (queued → running → passed | rejected | failed) so the page can follow it and
a restart does not lose what happened. The candidate is trained into MODELS_DIR/candidates/
and never touches the live model until it passes; going live is a file move into MODELS_DIR
(where `python -m bot route` and a restarted Rasa find it: bot.training.latest_model) plus
Rasa's `PUT /model` so the running server switches without a restart.

The gate (GATE): candidate top-1 ≥ live top-1 − TOP1_TOLERANCE and candidate misroute ≤
live misroute + MISROUTE_TOLERANCE, both on the 4-decimal figures benchmarks/route_eval.py
reports. The tolerances are zero: "not worse" means exactly that. Clarify rate is reported,
not gated (asking more is the safe direction).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import httpx
from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from bot import db
from bot.catalogue import ROOT, catalogue
from bot.config import settings

log = logging.getLogger("bot.staff.retrain")

TOP1_TOLERANCE = 0.0
MISROUTE_TOLERANCE = 0.0
GATE = (f"candidate top-1 ≥ live top-1 − {TOP1_TOLERANCE} and candidate misroute ≤ live misroute + "
        f"{MISROUTE_TOLERANCE} (same held-out texts)")
GATE_ZH = (f"新模型在同一組保留測試句上的正確率（top-1）不低於上線中的模型（容許差 {TOP1_TOLERANCE}），"
           f"且誤派率不高於它（容許差 {MISROUTE_TOLERANCE}）才會上線；反問率只報告不設限。")
STATES = ("queued", "running", "passed", "rejected", "failed")
ACTIVE = ("queued", "running")
# Our own held-out texts (written for this purpose, never taken from the dev split), used
# when the dev split is not on this machine.
HOLDOUT = ROOT / "benchmarks" / "data" / "route_holdout.jsonl"
LOG_EXCERPT = 4000
STALE = timedelta(hours=2)  # a "running" job older than this, with no thread here, was interrupted


class RetrainJob(db.Base):
    __tablename__ = "retrain_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    live_model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    candidate_model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    holdout: Mapped[str | None] = mapped_column(String(200), nullable=True)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    log_excerpt: Mapped[str] = mapped_column(Text, default="")


class RetrainBusy(RuntimeError):
    pass


_start_lock = threading.Lock()
_thread: threading.Thread | None = None


def _ensure_table() -> None:
    db.Base.metadata.create_all(db.engine(), tables=[RetrainJob.__table__])


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=db.utcnow().tzinfo)).isoformat(timespec="seconds")


def as_json(job: RetrainJob) -> dict:
    return {
        "id": job.id, "status": job.status, "requested_by": job.requested_by,
        "created_at": _iso(job.created_at), "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
        "live_model": job.live_model, "candidate_model": job.candidate_model, "holdout": job.holdout,
        "before": job.before, "after": job.after, "message": job.message, "log": job.log_excerpt, "gate": GATE,
    }


def jobs(limit: int = 10) -> list[dict]:
    _ensure_table()
    with db.session_factory()() as s:
        return [as_json(j) for j in s.scalars(select(RetrainJob).order_by(RetrainJob.id.desc()).limit(limit))]


def job(job_id: int) -> dict | None:
    _ensure_table()
    with db.session_factory()() as s:
        row = s.get(RetrainJob, job_id)
        return as_json(row) if row else None


def start(username: str, *, background: bool = True) -> dict:
    """Queue a job and run it in a thread; RetrainBusy if one is queued or running."""
    global _thread
    _ensure_table()
    with _start_lock:
        with db.session_factory()() as s:
            for active in s.scalars(select(RetrainJob).where(RetrainJob.status.in_(ACTIVE))):
                mine = _thread is not None and _thread.is_alive()
                started = active.started_at or active.created_at
                started = started if started.tzinfo else started.replace(tzinfo=db.utcnow().tzinfo)
                if not mine and db.utcnow() - started > STALE:
                    active.status, active.message = "failed", "interrupted (the gateway stopped during the job)"
                    active.finished_at = db.utcnow()
                    continue
                raise RetrainBusy(f"retrain job {active.id} is {active.status}")
            row = RetrainJob(requested_by=username[:64], status="queued")
            s.add(row)
            s.commit()
            job_id = row.id
        if background:
            _thread = threading.Thread(target=run, args=(job_id,), name=f"retrain-{job_id}", daemon=True)
            _thread.start()
        else:
            run(job_id)
    return job(job_id) or {}


def _update(job_id: int, **fields: object) -> None:
    with db.session_factory()() as s:
        row = s.get(RetrainJob, job_id)
        for key, value in fields.items():
            setattr(row, key, value)
        s.commit()


@contextlib.contextmanager
def train_lock() -> Iterator[None]:
    """One training at a time per installation (a lock file in BOT_VAR_DIR). BOT_TRAIN_LOCK names
    another file (developers sharing one machine: `/tmp/bianmin-train.lock`); BOT_TRAIN_LOCK_HELD=1
    says an ancestor already holds it (a test run under `flock`), which would otherwise deadlock."""
    cfg = settings()
    if cfg.train_lock_held:
        yield
        return
    var_dir = cfg.var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.train_lock or str(var_dir / "train.lock")
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _route_eval() -> ModuleType:
    """benchmarks/route_eval.py, reused as it is (route + score), not copied."""
    spec = importlib.util.spec_from_file_location("route_eval", ROOT / "benchmarks" / "route_eval.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def holdout_rows() -> tuple[str, list[dict]]:
    """The dev split when it is on this machine, else our own held-out file."""
    files = sorted(_route_eval().EVAL_DIR.glob("*.jsonl")) if settings().retrain_holdout != "repo" else []
    if not files:
        files = [HOLDOUT]
    rows = [json.loads(line) for path in files for line in path.open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if r.get("text") and r.get("agency")]
    names = ", ".join(p.name for p in files)
    return names, rows


def _figures(scored: dict) -> dict:
    keep = ("n", "top1_agency", "misroute_rate", "clarify_rate", "acted_accuracy")
    return {k: scored[k] for k in keep}


def passes(before: dict, after: dict) -> bool:
    return (after["top1_agency"] >= before["top1_agency"] - TOP1_TOLERANCE
            and after["misroute_rate"] <= before["misroute_rate"] + MISROUTE_TOLERANCE)


def _curated_rows() -> list[dict]:
    """The curators' own examples as (text, agency): does the model now route what they fixed?"""
    from bot.nlu.training_data import curated_dir

    cat = catalogue()
    directory = curated_dir()
    if not directory.is_dir():
        return []
    return [{"text": text, "agency": cat.services[intent].agency}
            for text, intent in sorted(_curated_pairs(directory)) if intent in cat.services]


def _curated_pairs(directory: Path) -> set[tuple[str, str]]:
    import yaml

    pairs = set()
    for path in sorted(directory.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                if line.strip().startswith("- ") and "intent" in block:
                    pairs.add((line.strip()[2:], block["intent"]))
    return pairs


def _train_candidate(log_path: Path) -> Path:
    from bot.training import MODELS_DIR

    out_dir = MODELS_DIR / "candidates"
    cmd = [str(ROOT / ".venv" / "bin" / "python"), "-m", "bot", "train", "--out-dir", str(out_dir),
           "--build-dir", str(ROOT / "build" / "candidate")]
    with log_path.open("ab") as fh:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=fh, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"training failed (exit {proc.returncode})")
    return Path(proc.stdout.decode().strip().splitlines()[-1])


def promote(candidate: Path) -> str:
    """Move the candidate into MODELS_DIR and ask the running Rasa to load it."""
    from bot.training import MODELS_DIR

    target = MODELS_DIR / candidate.name
    os.replace(candidate, target)
    meta = candidate.with_suffix("").with_suffix(".json")
    if meta.exists():
        os.replace(meta, target.with_suffix("").with_suffix(".json"))
    os.utime(target)  # newest: latest_model() picks it even after the data changes again
    return reload_rasa(target)


def reload_rasa(model: Path) -> str:
    """PUT /model on every Rasa replica `python -m bot run` started (it passes the API token)."""
    token = settings().rasa_api_token
    if not token:
        return ("the running Rasa was not told (no BOT_RASA_API_TOKEN: not started by `python -m bot run`); "
                "it loads the new model on its next start")
    cfg = settings()
    replicas = getattr(cfg, "rasa_replicas", None) or (cfg.rasa_url,)
    failed = []
    for url in replicas:
        try:
            resp = httpx.put(f"{url}/model", params={"token": token},
                             json={"model_file": str(model.resolve())}, timeout=600)
            if resp.status_code != 204:
                failed.append(f"{url}: HTTP {resp.status_code}")
        except httpx.HTTPError as exc:
            failed.append(f"{url}: {type(exc).__name__}")
    if failed:
        return f"Rasa could not load it ({'; '.join(failed)}); it loads the new model on its next start"
    return f"the running Rasa loaded the new model ({len(replicas)} replica(s))"


def run(job_id: int) -> None:
    from bot.training import latest_model

    log_dir = settings().var_dir / "retrain"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"job-{job_id}.log"
    _update(job_id, status="running", started_at=db.utcnow())
    try:
        with train_lock():
            live = latest_model()
            if live is None:
                raise RuntimeError("no live model to compare with: run `python -m bot train` first")
            _update(job_id, live_model=live.name)
            candidate = _train_candidate(log_path)
            _update(job_id, candidate_model=candidate.name)
            if candidate.name == live.name:
                raise RuntimeError("the data did not change since the live model was trained")
            names, rows = holdout_rows()
            curated = _curated_rows()
            evaluator = _route_eval()
            everything = rows + curated
            out_live, _ = evaluator.route(everything, live)
            out_cand, timing = evaluator.route(everything, candidate)
            n = len(rows)
            before = _figures(evaluator.score(rows, out_live[:n]))
            after = _figures(evaluator.score(rows, out_cand[:n]))
            if curated:
                # The curators' own texts: routed to the right agency, and how many still asked.
                for figures, out in ((before, out_live), (after, out_cand)):
                    pairs = list(zip(curated, out[n:], strict=True))
                    figures["curated_routed"] = sum(o["agency"] == r["agency"] for r, o in pairs)
                    figures["curated_clarified"] = sum(bool(o["clarify"]) for _, o in pairs)
                    figures["curated_n"] = len(curated)
            ok = passes(before, after)
            summary = (f"held-out {names} ({n} texts): top-1 {before['top1_agency']:.4f} → {after['top1_agency']:.4f}, "
                       f"misroute {before['misroute_rate']:.4f} → {after['misroute_rate']:.4f}, "
                       f"clarify {before['clarify_rate']:.4f} → {after['clarify_rate']:.4f}")
            with log_path.open("a", encoding="utf-8") as fh:
                fh.write(summary + "\n" + json.dumps({"route_timing": timing}) + "\n")
            if ok:
                reloaded = promote(candidate)
                status, message = "passed", f"{summary}. Live now: {candidate.name}; {reloaded}."
            else:
                status, message = "rejected", f"{summary}. Not live: the candidate is worse ({GATE})."
                from bot.training import rejected_marker

                rejected_marker(candidate.name).write_text(message + "\n", encoding="utf-8")
            _update(job_id, holdout=names[:200], before=before, after=after, status=status, message=message)
            log.info("retrain job %d %s: %s", job_id, status, summary)
    except BaseException as exc:  # noqa: BLE001 - SystemExit from route_eval included; the job must end
        log.error("retrain job %d failed: %s", job_id, exc)
        _update(job_id, status="failed", message=str(exc)[:2000])
        if not isinstance(exc, Exception | SystemExit):
            raise
    finally:
        excerpt = log_path.read_text(encoding="utf-8", errors="replace")[-LOG_EXCERPT:] if log_path.exists() else ""
        _update(job_id, finished_at=db.utcnow(), log_excerpt=excerpt)


if __name__ == "__main__":  # pragma: no cover - manual use: python -m bot.staff.retrain
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    db.create_tables()
    print(json.dumps(start("cli", background=False), ensure_ascii=False, indent=2))
