"""The real MLflow Python client against the stack, through NGINX (test/e2e/mlflow-client.test.ts).

Runs one action as the user whose Keycloak access token is in MLFLOW_TRACKING_TOKEN (the
client sends it as `Authorization: Bearer`; MLFLOW_TRACKING_URI is NGINX's MLflow front) and
prints one JSON object on stdout, which the test asserts on:

  create                 experiment, run, params, metrics and a text artifact (stored in MinIO
                         by MLflow's artifact proxy), then everything read back: search_runs,
                         list_artifacts, download_artifacts, and the object in MinIO itself
                         (boto3 with MINIO_URL / MINIO_ROOT_USER / MINIO_ROOT_PASSWORD)
  log-metric RUN_ID      try to log a metric; report the outcome and the metric's history after
  delete-run RUN_ID      try to delete the run; report the outcome and the run's lifecycle after

A refused call is reported as {"ok": false, "error_code": ..., "http_status": ..., "message": ...}
(an MlflowException); anything unexpected ends with a traceback on stderr and exit status 1.
"""

import json
import os
import sys
import tempfile
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException

ARTIFACT_TEXT = "artifact written by the MLflow client through NGINX\n"
ARTIFACT_NAME = "notes/hello.txt"


def refused(error: MlflowException) -> dict:
    return {
        "ok": False,
        "error_code": error.error_code,
        "http_status": error.get_http_status_code(),
        "message": error.message,
    }


def minio_object(artifact_uri: str, path: str) -> dict:
    """The object behind `mlflow-artifacts:/<exp>/<run>/artifacts/<path>`, read with the root keys."""
    destination = urlparse(os.environ["MLFLOW_ARTIFACTS_DESTINATION"])  # s3://<bucket>/<prefix>
    key = "/".join(p.strip("/") for p in (destination.path, urlparse(artifact_uri).path, path) if p.strip("/"))
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["MINIO_URL"],
        region_name="us-east-1",
        aws_access_key_id=os.environ["MINIO_ROOT_USER"],
        aws_secret_access_key=os.environ["MINIO_ROOT_PASSWORD"],
        config=Config(s3={"addressing_style": "path"}),
    )
    body = s3.get_object(Bucket=destination.netloc, Key=key)["Body"].read()
    return {"bucket": destination.netloc, "key": key, "text": body.decode("utf-8")}


def create(client: MlflowClient) -> dict:
    name = os.environ["EXPERIMENT_NAME"]
    experiment_id = client.create_experiment(name)
    run = client.create_run(experiment_id, run_name="client-scenario")
    run_id = run.info.run_id
    client.log_param(run_id, "optimizer", "adam")
    client.log_param(run_id, "epochs", "3")
    for step, loss in enumerate([0.9, 0.5, 0.25]):
        client.log_metric(run_id, "loss", loss, step=step)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, os.path.basename(ARTIFACT_NAME))
        with open(local, "w", encoding="utf-8") as f:
            f.write(ARTIFACT_TEXT)
        client.log_artifact(run_id, local, artifact_path=os.path.dirname(ARTIFACT_NAME))
    client.set_terminated(run_id)

    found = client.search_runs([experiment_id], filter_string="params.optimizer = 'adam'")
    with tempfile.TemporaryDirectory() as tmp:
        downloaded = download_artifacts(run_id=run_id, artifact_path=ARTIFACT_NAME, dst_path=tmp)
        with open(downloaded, encoding="utf-8") as f:
            downloaded_text = f.read()
    artifact_uri = client.get_run(run_id).info.artifact_uri
    return {
        "ok": True,
        "experiment_id": experiment_id,
        "run_id": run_id,
        "artifact_uri": artifact_uri,
        "searched": [
            {"run_id": r.info.run_id, "status": r.info.status, "params": r.data.params, "metrics": r.data.metrics}
            for r in found
        ],
        "loss_history": [m.value for m in client.get_metric_history(run_id, "loss")],
        "artifacts": [a.path for a in client.list_artifacts(run_id, os.path.dirname(ARTIFACT_NAME))],
        "written_text": ARTIFACT_TEXT,
        "downloaded_text": downloaded_text,
        "minio": minio_object(artifact_uri, ARTIFACT_NAME),
    }


def log_metric(client: MlflowClient, run_id: str) -> dict:
    try:
        client.log_metric(run_id, "written_by_denied_user", 1.0)
        result = {"ok": True}
    except MlflowException as error:
        result = refused(error)
    result["history_after"] = [m.value for m in client.get_metric_history(run_id, "written_by_denied_user")]
    return result


def delete_run(client: MlflowClient, run_id: str) -> dict:
    try:
        client.delete_run(run_id)
        result = {"ok": True}
    except MlflowException as error:
        result = refused(error)
    result["lifecycle_stage_after"] = client.get_run(run_id).info.lifecycle_stage
    return result


def main(argv: list) -> None:
    client = MlflowClient()  # MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN from the environment
    actions = {"create": create, "log-metric": log_metric, "delete-run": delete_run}
    if not argv or argv[0] not in actions:
        sys.exit(f"usage: client_scenario.py {{{'|'.join(actions)}}} [RUN_ID]")
    print(json.dumps(actions[argv[0]](client, *argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
