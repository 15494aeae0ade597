"""deploy/: the compose file against the Compose Specification, the Kubernetes overlays rendered by
kustomize and checked against Kubernetes' own schemas, and `python -m bot part`, which each
container runs. Docker and a cluster are not on this machine: deploy/README.md says what was run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT, free_port

DEPLOY = ROOT / "deploy"
KUBERNETES = "1.32.0"  # the oldest release the manifests promise (autoscaling/v2, networking/v1)


def _kustomize(overlay: str) -> list[dict]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed here: the overlays were not rendered")
    out = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_overlay_renders_and_matches_kubernetes_schemas(overlay: str) -> None:
    import kubernetes_validate

    docs = _kustomize(overlay)
    for doc in docs:
        # strict: an unknown or misplaced field fails, as `kubectl apply --validate=strict` would.
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for name in ("gateway", "rasa", "actions"):
        assert ("Deployment", name) in kinds
    assert {("HorizontalPodAutoscaler", "gateway"), ("HorizontalPodAutoscaler", "rasa")} <= kinds
    assert ("Ingress", "bianmin") in kinds and ("Job", "bianmin-migrate") in kinds


def test_every_pod_is_ready_only_when_healthy_and_asks_for_what_it_uses() -> None:
    docs = _kustomize("local")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name in ("gateway", "rasa", "actions"):
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"], name
        assert container["resources"]["requests"]["memory"], name
        assert container["resources"]["limits"]["memory"], name
        assert container["args"] == [name]  # the image's entrypoint is `python -m bot part`
        refs = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
        # the local overlay generates it, with kustomize's content hash as a suffix
        assert [r for r in refs if r.startswith("bianmin-secrets")], name
    gateway = deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/healthz"
    # /healthz is 503 while Rasa is down: liveness must not restart a gateway for that.
    assert "httpGet" not in gateway["livenessProbe"]
    ingress = next(d for d in docs if d["kind"] == "Ingress")
    assert ingress["spec"]["tls"], "TLS terminates at the ingress"


def test_production_overlay_holds_no_secret_values() -> None:
    docs = _kustomize("production")
    assert not [d for d in docs if d["kind"] == "Secret"], "production secrets are made out of band"
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "Job")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert all(not i.endswith(":latest") for i in images), images


def test_compose_file_matches_the_compose_specification() -> None:
    import jsonschema
    from check_jsonschema.builtin_schemas import get_builtin_schema

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    schema = get_builtin_schema("vendor.compose-spec")
    jsonschema.validate(compose, schema)
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} waits for {dependency}, which is not defined"
    for name in ("postgres", "redis", "rabbitmq", "rasa", "gateway", "actions", "proxy"):
        assert name in services
    # Secrets come from deploy/.env, never from this file.
    assert "${POSTGRES_PASSWORD" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert services["proxy"]["ports"] == ["443:443", "80:80"]


def test_part_refuses_an_unknown_name_and_a_missing_internal_secret(tmp_path: Path) -> None:
    env = {**os.environ, "BOT_VAR_DIR": str(tmp_path)}
    env.pop("BOT_RASA_API_TOKEN", None)
    bad = subprocess.run([sys.executable, "-m", "bot", "part", "web"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    no_token = subprocess.run([sys.executable, "-m", "bot", "part", "gateway"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    assert no_token.returncode == 1 and "BOT_RASA_API_TOKEN" in no_token.stderr


@pytest.mark.slow
def test_part_gateway_serves_and_reports_missing_parts(tmp_path: Path) -> None:
    """The gateway container's process alone: it listens where BOT_HOST/PORT say, and /healthz
    says which parts (Rasa, the action server elsewhere) it cannot reach, with 503."""
    port, dead = free_port(), free_port()
    env = {**os.environ, "BOT_VAR_DIR": str(tmp_path), "BOT_HOST": "127.0.0.1", "PORT": str(port),
           "BOT_RASA_API_TOKEN": "test-internal-secret", "BOT_RASA_URLS": f"http://127.0.0.1:{dead}",
           "BOT_ACTIONS_URL": f"http://127.0.0.1:{dead}"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "part", "gateway"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        resp = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert resp is not None, proc.stderr.read().decode() if proc.poll() is not None else "no answer"
        assert resp.status_code == 503
        body = resp.json()
        assert "rasa" in str(body) and "actions" in str(body)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
