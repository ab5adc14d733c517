#!/usr/bin/env python3
"""Answer, for raw request targets, which MLflow endpoint the real server would run.

Used by scripts/routes/differential.mjs (the differential test of nginx-authz's URI handling
against MLflow's own routing). Run with the Python that has MLflow installed (the stack's venv):

    $STACK_PYTHON scripts/routes/mlflow_router_oracle.py < requests.jsonl > answers.jsonl

Reads one JSON object per line, {"m": "<METHOD>", "u": "<raw request target>"}, and writes one
JSON object per line, in order:
  {"k": "fastapi"|"flask", "rule": "/x/<path:p>", "endpoint": ..., "values": {...},
   "artifact_dir": ..., "experiment_ids": [...]}   -- an endpoint would run
  {"k": "none"}      -- 404 (nothing runs)
  {"k": "method"}    -- 405 (nothing runs)
  {"k": "redirect"}  -- Flask/Starlette answer with a redirect (the client's next request is decided anew)
  {"k": "reject"}    -- the HTTP server refuses the target before routing (non-ASCII request line)

Nothing is started, no handler runs and no network is used: the apps are built in-process
exactly as `mlflow server` (uvicorn, the default) builds them, and each target goes through the
same steps as a real request: uvicorn's h11 parser (`unquote` of the path, once), Starlette's
router over MLflow's native FastAPI routes (via FastAPI's own matching code), then, for
everything else, the Flask app mounted at "/" with the WSGI environ Starlette builds and
Werkzeug's URL map (merge_slashes, strict_slashes, converters).

For endpoints that name an experiment where nginx-authz looks (routes/objects.ts), the answer
also says what MLflow's handler would read: `artifact_dir`, the first segment of the artifact
path after MLflow's own `validate_path_is_safe` (null when MLflow refuses the path), and
`experiment_ids`, the `experiment_id` query values as the store's int() reads them.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dump_mlflow_routes  # noqa: E402  (same environment as the route dump)

ARTIFACT_PARAM = "artifact_path"
ABSOLUTE_FORM = re.compile(r"^[A-Za-z]+://[^/?#]*")


def build():
    workdir = Path(tempfile.mkdtemp(prefix="mlflow-oracle-"))
    dump_mlflow_routes._prepare_environment(workdir)
    from mlflow.server import app as flask_app
    from mlflow.server.fastapi_app import create_fastapi_app

    try:
        # The basic-auth routes too when mlflow[auth] is installed: a superset of what the stack serves.
        from mlflow.server.auth import create_app

        create_app(flask_app)
    except ImportError:
        print("note: mlflow[auth] not installed: basic-auth routes not included", file=sys.stderr)
    return flask_app, create_fastapi_app(flask_app)


def flask_rule_of(path_format: str) -> str:
    path_format = re.sub(r"\{(\w+):path\}", r"<path:\1>", path_format)
    return re.sub(r"\{(\w+)(:\w+)?\}", r"<\1>", path_format)


class Oracle:
    def __init__(self):
        from fastapi.routing import _IncludedRouter
        from starlette.middleware.wsgi import build_environ
        from starlette.routing import Match, Mount
        from werkzeug.exceptions import MethodNotAllowed, NotFound
        from werkzeug.routing import RequestRedirect
        from werkzeug.wrappers import Request

        from mlflow.utils.uri import validate_path_is_safe

        self.flask_app, self.fastapi_app = build()
        self.IncludedRouter = _IncludedRouter
        self.build_environ = build_environ
        self.Match, self.Mount = Match, Mount
        self.MethodNotAllowed, self.NotFound, self.RequestRedirect = MethodNotAllowed, NotFound, RequestRedirect
        self.Request = Request
        self.validate_path_is_safe = validate_path_is_safe

    def scope(self, method: str, target: str) -> dict:
        # NGINX proxies an absolute-form request with its path only ($request_uri, proxy_pass without URI).
        target = ABSOLUTE_FORM.sub("", target, count=1) or "/"
        # uvicorn's h11 protocol: target.partition(b"?"), path = unquote(raw_path.decode("ascii")).
        raw_path, _, query = target.partition("?")
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "server": ("127.0.0.1", 5000), "client": ("127.0.0.1", 1),
            "root_path": "", "path": unquote(raw_path), "raw_path": raw_path.encode("ascii"),
            "query_string": query.encode("ascii"), "headers": [(b"host", b"127.0.0.1:5000")],
        }

    def fastapi_match(self, routes, scope):
        """The first native route Starlette's router would run; None when the Flask mount takes it."""
        for route in routes:
            if isinstance(route, self.IncludedRouter):
                match, child, inner, context = route._match(scope)
                if match != self.Match.FULL:
                    continue
                if isinstance(inner, self.IncludedRouter):
                    return self.fastapi_match([inner], scope)
                original = context.original_route if context is not None else inner
                # The context's path carries the include_router prefix (e.g. MCP servers' route prefixes).
                path = (getattr(context, "path", "") or original.path) if context is not None else original.path
                return {"k": "fastapi", "endpoint": original.name, "rule": flask_rule_of(path),
                        "values": {k: str(v) for k, v in child.get("path_params", {}).items()}}
            match, child = route.matches(scope)
            if match == self.Match.FULL:
                if not isinstance(route, self.Mount):  # a plain route (none today, but Starlette would run it)
                    return {"k": "fastapi", "endpoint": getattr(route, "name", "?"), "rule": flask_rule_of(route.path),
                            "values": {k: str(v) for k, v in child.get("path_params", {}).items()}}
                return None  # the Flask mount at "/" (Starlette stops at the first FULL match)
        return {"k": "none"}

    def answer(self, method: str, target: str) -> dict:
        try:
            scope = self.scope(method, target)
        except UnicodeEncodeError:
            return {"k": "reject"}
        native = self.fastapi_match(self.fastapi_app.router.routes, scope)
        if native is not None and native["k"] == "none":
            return native
        environ = self.build_environ(scope, b"")
        if native is None:
            adapter = self.flask_app.url_map.bind_to_environ(environ)
            try:
                rule, values = adapter.match(method=method, return_rule=True)
            except self.RequestRedirect:
                return {"k": "redirect"}
            except self.MethodNotAllowed:
                return {"k": "method"}
            except self.NotFound:
                return {"k": "none"}
            native = {"k": "flask", "endpoint": rule.endpoint, "rule": rule.rule, "values": {k: str(v) for k, v in values.items()}}
        return self.objects(native, environ)

    def objects(self, result: dict, environ: dict) -> dict:
        """What the handler reads as its experiment: artifact directory, experiment_id values."""
        args = self.Request(environ).args
        path = result["values"].get(ARTIFACT_PARAM)
        if path is None and "mlflow-artifacts/artifacts" in result["rule"] and result["rule"].endswith("artifacts"):
            listed = args.getlist("path")
            path = listed[0] if len(listed) == 1 else None
        if path is not None:
            try:
                result["artifact_dir"] = self.validate_path_is_safe(path).split("/")[0]
            except Exception:  # MLflow refuses the path: nothing runs on it
                result["artifact_dir"] = None
        ids = []
        for value in args.getlist("experiment_id"):
            try:
                ids.append(str(int(value)))
            except ValueError:
                ids.append(None)
        result["experiment_ids"] = ids
        return result


def main() -> None:
    oracle = Oracle()
    out = sys.stdout
    print(json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            answer = oracle.answer(request["m"], request["u"])
        except Exception as error:  # a crash in routing is a finding too: report it, keep going
            answer = {"k": "error", "error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(answer) + "\n")
        if request.get("flush"):
            out.flush()
    out.flush()


if __name__ == "__main__":
    main()
