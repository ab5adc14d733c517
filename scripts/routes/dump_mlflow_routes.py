#!/usr/bin/env python3
"""Dump every HTTP route the MLflow tracking server can serve, as JSON.

Run with a Python that has MLflow installed (with the `auth` and `genai` extras, so the
basic-auth app and the FastAPI routers import):

    python3 -m venv /tmp/mlvenv
    /tmp/mlvenv/bin/pip install 'mlflow[auth,genai]==<version>' prometheus-flask-exporter
    /tmp/mlvenv/bin/python scripts/routes/dump_mlflow_routes.py \
        [--out test/routes/fixtures/mlflow-endpoints.json]

What `mlflow server` serves is the union of:
  * the Flask app `mlflow.server:app` -- every protobuf service endpoint from
    `handlers.get_endpoints()` plus the hand-written `@app.route`s in server/__init__.py
    (source "tracking");
  * with `--expose-prometheus`, `prometheus_flask_exporter` adds `/metrics` to the Flask app
    (source "prometheus"; only when PROMETHEUS_EXPORTER_ENV_VAR is set at import);
  * with `--app-name basic-auth`, `mlflow.server.auth.create_app` adds user/role/permission
    routes and `/signup` to the same Flask app (source "auth");
  * under uvicorn (the default since MLflow 3.x), `mlflow.server.fastapi_app` wraps the Flask
    app in FastAPI and puts native routers in front of it: OTLP `/v1/traces`, jobs, the AI
    gateway `/gateway/...`, the assistant, streaming artifact GET/PUT, the MCP-server and
    skill registries, `/health` and `server-info` (source named after the router's module).
Native FastAPI routes take precedence over the Flask mount, so a path can appear twice (once
per source) -- both are listed; the authorizer only cares about (method, path).

Nothing is started and no network is used: the apps are built in-process against throwaway
sqlite files in a temporary directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # added automatically by Flask / Starlette
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "test" / "routes" / "fixtures" / "mlflow-endpoints.json"

# Environment the `mlflow server` CLI would set, keyed by the constant that names it.
ENV_CONSTANTS = {
    "BACKEND_STORE_URI_ENV_VAR": "_MLFLOW_SERVER_FILE_STORE",
    "SERVE_ARTIFACTS_ENV_VAR": "_MLFLOW_SERVER_SERVE_ARTIFACTS",
    "ARTIFACTS_DESTINATION_ENV_VAR": "_MLFLOW_SERVER_ARTIFACT_DESTINATION",
    # --expose-prometheus: the Flask app registers /metrics at import when this is set.
    "PROMETHEUS_EXPORTER_ENV_VAR": "prometheus_multiproc_dir",
}
ENV_BY_VALUE = {
    "_MLFLOW_SERVER_FILE_STORE": "sqlite:///{workdir}/mlflow.db",
    "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
    "_MLFLOW_SERVER_ARTIFACT_DESTINATION": "{workdir}/artifacts",
    "prometheus_multiproc_dir": "{workdir}/prom",
}


def _prepare_environment(workdir: Path) -> None:
    """Sets what the conditional parts of the server need, before anything imports MLflow."""
    os.chdir(workdir)  # basic_auth.ini's default database is relative to the cwd
    # mlflow.server.constants names these variables, but importing it runs mlflow/server/__init__
    # (which builds the app), so they are set by value here and checked after the import.
    for name, value in ENV_BY_VALUE.items():
        os.environ[name] = value.format(workdir=workdir)
    if importlib.util.find_spec("prometheus_flask_exporter") is None:
        # MLflow would fail to import; --expose-prometheus needs mlflow[extras] anyway.
        print("warning: prometheus-flask-exporter not installed: /metrics not dumped", file=sys.stderr)
        del os.environ["prometheus_multiproc_dir"]
    os.environ.pop("_MLFLOW_STATIC_PREFIX", None)  # the authorizer adds its own prefix
    (workdir / "prom").mkdir()
    # --app-name basic-auth: needs a CSRF secret, an auth DB, and an admin password to bootstrap.
    ini = workdir / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
    os.environ.setdefault("MLFLOW_AUTH_ADMIN_PASSWORD", secrets.token_urlsafe(24))
    os.environ.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(16))
    # Build the Flask app (not the FastAPI wrapper) from create_app; we wrap it ourselves.
    os.environ["_MLFLOW_SGI_NAME"] = "gunicorn"


def _flask_rules(app) -> dict[tuple[str, str], dict]:
    rules = {}
    for rule in app.url_map.iter_rules():
        methods = sorted(set(rule.methods or ()) - IGNORED_METHODS)
        rules[(rule.rule, ",".join(methods))] = {
            "rule": rule.rule,
            "methods": methods,
            "endpoint": rule.endpoint,
        }
    return rules


def _source_for_fastapi(route) -> str:
    module = getattr(route.endpoint, "__module__", "") or ""
    name = module.rsplit(".", 1)[-1]
    return {
        "otel_api": "otlp",
        "job_api": "jobs",
        "gateway_api": "gateway",
        "api": "assistant" if "assistant" in module else name,
        "artifact_router": "artifacts",
        "mcp_server_api": "mcp-servers",
        "skill_registry_api": "skills",
        "server_info_api": "server-info",
    }.get(name, f"fastapi:{module}")


def _fastapi_rule(path: str) -> str:
    """Writes a Starlette path in Flask's rule syntax so the fixture has one syntax."""
    path = re.sub(r"\{(\w+):path\}", r"<path:\1>", path)
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


def _walk_fastapi(routes, prefix: str):
    """Yields (prefix, route) for every route, flattening included routers.

    Older FastAPI copies an included router's routes into the app (with the prefix applied);
    newer FastAPI (>= 0.16x) keeps a lazy `_IncludedRouter` node whose routes carry their own
    router's prefix and whose include context carries the `include_router(prefix=...)`.
    """
    for route in routes:
        original = getattr(route, "original_router", None)
        context = getattr(route, "include_context", None)
        if original is not None and context is not None:
            children = list(original.routes) + [
                r for r in getattr(original, "_low_priority_routes", []) if hasattr(r, "path")
            ]
            yield from _walk_fastapi(children, prefix + context.prefix)
        else:
            yield prefix, route


def collect() -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="mlflow-routes-"))
    _prepare_environment(workdir)

    import mlflow
    from mlflow.server import app as flask_app
    from mlflow.server import constants

    for constant, name in ENV_CONSTANTS.items():
        if getattr(constants, constant, None) != name:
            raise SystemExit(f"mlflow.server.constants.{constant} is no longer {name!r}: update me")

    endpoints: list[dict] = []
    tracking = _flask_rules(flask_app)
    base_keys = set(tracking)
    prometheus_keys = {k for k, v in tracking.items() if v["endpoint"] == "prometheus_metrics"}

    # basic-auth: create_app mutates the same Flask app (adds rules and hooks).
    from mlflow.server.auth import create_app

    create_app(flask_app)
    after_auth = _flask_rules(flask_app)
    for key, value in after_auth.items():
        if key in prometheus_keys:
            source = "prometheus"
        elif key in base_keys:
            source = "tracking"
        else:
            source = "auth"
        endpoints.append({**value, "source": source})

    # uvicorn: the FastAPI wrapper's native routers (built around the same Flask app).
    from starlette.routing import Mount, Route, WebSocketRoute

    from mlflow.server.fastapi_app import create_fastapi_app

    fastapi_app = create_fastapi_app(flask_app)
    for prefix, route in _walk_fastapi(fastapi_app.router.routes, ""):
        if isinstance(route, Mount):
            if route.path in ("", "/"):
                continue  # the Flask app at "/", listed above
            raise SystemExit(f"unexpected FastAPI mount {route.path!r}: teach me to list it")
        if isinstance(route, WebSocketRoute):
            methods = ["WEBSOCKET"]
        elif isinstance(route, Route):
            methods = sorted(set(route.methods or ()) - IGNORED_METHODS)
        else:
            raise SystemExit(f"unexpected FastAPI route type {type(route)!r}: {route!r}")
        endpoints.append(
            {
                "rule": _fastapi_rule(prefix + route.path),
                "methods": methods,
                "endpoint": route.name,
                "source": _source_for_fastapi(route),
            }
        )

    if not any(e["source"] == "prometheus" for e in endpoints):
        print(
            "note: no /metrics route (prometheus_flask_exporter not installed?)", file=sys.stderr
        )
    endpoints.sort(key=lambda e: (e["rule"], e["methods"], e["source"], e["endpoint"]))
    return {"mlflow_version": mlflow.__version__, "endpoints": endpoints}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    out = args.out.resolve()
    result = collect()
    out.parent.mkdir(parents=True, exist_ok=True)
    # One endpoint per line, so a version bump shows up as a readable diff.
    lines = ",\n".join(f"    {json.dumps(e)}" for e in result["endpoints"])
    out.write_text(
        f'{{\n  "mlflow_version": {json.dumps(result["mlflow_version"])},\n'
        f'  "endpoints": [\n{lines}\n  ]\n}}\n'
    )
    counts: dict[str, int] = {}
    for endpoint in result["endpoints"]:
        counts[endpoint["source"]] = counts.get(endpoint["source"], 0) + 1
    print(
        f"mlflow {result['mlflow_version']}: {len(result['endpoints'])} endpoints "
        f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}) -> {out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
