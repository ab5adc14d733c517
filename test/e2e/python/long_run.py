"""A training run longer than the access token's lifespan (test/e2e/basic-credentials.test.ts).

Authenticates with MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD only (the client sends
`Authorization: Basic`; nginx-authz exchanges and renews the token). Logs one metric every
INTERVAL seconds for DURATION seconds, then prints one JSON object: the run id, how many
steps were logged, how long it took, and the metric history as the server has it. Any
refused call ends the script with a traceback and exit status 1.
"""

import json
import os
import time

import mlflow
from mlflow import MlflowClient

duration = float(os.environ["DURATION_SECONDS"])
interval = float(os.environ.get("INTERVAL_SECONDS", "2"))
mlflow.set_experiment(os.environ["EXPERIMENT_NAME"])
started = time.monotonic()
steps = 0
with mlflow.start_run() as run:
    while time.monotonic() - started < duration:
        mlflow.log_metric("loss", 1.0 / (steps + 1), step=steps)
        steps += 1
        time.sleep(interval)
elapsed = time.monotonic() - started
history = MlflowClient().get_metric_history(run.info.run_id, "loss")
print(json.dumps({"run_id": run.info.run_id, "steps": steps, "seconds": round(elapsed, 1), "history_steps": sorted(m.step for m in history)}))
