"""Batch NLU parsing with the trained Rasa model, run inside the Rasa environment.

`python -m bot route` (gateway environment) starts this as a child and streams texts to it:
stdin lines {"i": n, "text": ...} → stdout lines {"i": n, "intent_ranking": [...]}.
It runs the model's own NLU graph on whole batches, so every component (our featurizer
included) sees many messages at once; the ranking is exactly what the Rasa server computes.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def _load(model_path: str):
    import logging

    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent

    return Agent.load(model_path)


def _parse_batch(agent, texts: list[str]) -> list[dict]:
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor
    messages = [UserMessage(t, sender_id="route") for t in texts]
    tracker = DialogueStateTracker("route", [])
    target = processor.model_metadata.nlu_target
    results = processor.graph_runner.run(
        inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker}, targets=[target]
    )[target]
    out = []
    for msg in results:
        data = msg.as_dict(only_output_properties=True)
        out.append({"intent_ranking": data.get("intent_ranking") or [data.get("intent") or {}]})
    return out


def main() -> None:
    model_path = sys.argv[1]
    from bot.config import settings

    batch_size = settings().route_batch
    agent = _load(model_path)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    batch: list[dict] = []

    def parse(texts: list[str]) -> list[dict]:
        try:
            return _parse_batch(agent, texts)
        except Exception:  # noqa: BLE001 - one bad text must not stop the batch: retry one by one
            if len(texts) == 1:
                return [{"intent_ranking": []}]  # the router answers "please rephrase"
            return [parse([t])[0] for t in texts]

    def flush() -> None:
        if not batch:
            return
        for item, parsed in zip(batch, parse([b["text"] for b in batch])):
            out.write(json.dumps({"i": item["i"], **parsed}, ensure_ascii=False) + "\n")
        out.flush()
        batch.clear()

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        if line == "FLUSH":  # the parent has no more lines for now
            flush()
            continue
        batch.append(json.loads(line))
        if len(batch) >= batch_size:
            flush()
    flush()


if __name__ == "__main__":
    main()
