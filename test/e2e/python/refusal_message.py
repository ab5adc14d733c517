"""What the MLflow Python client tells its user when NGINX refuses (test/e2e/user-errors.test.ts).

Creates the experiment EXPERIMENT_NAME against MLFLOW_TRACKING_URI with whatever credentials
the environment gives (MLFLOW_TRACKING_TOKEN, or none) and prints one JSON object: on a refusal
the exception's error_code, HTTP status, message and its full text as a user sees it (str()).
"""

import json
import os

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

try:
    experiment_id = MlflowClient().create_experiment(os.environ["EXPERIMENT_NAME"])
    print(json.dumps({"ok": True, "experiment_id": experiment_id}))
except MlflowException as error:
    print(json.dumps({
        "ok": False,
        "error_code": error.error_code,
        "http_status": error.get_http_status_code(),
        "message": error.message,
        "text": str(error),
    }))
