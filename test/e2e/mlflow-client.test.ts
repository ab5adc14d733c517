/**
 * The real MLflow Python client through NGINX, with nothing but a Keycloak access token
 * (MLFLOW_TRACKING_TOKEN, sent as `Authorization: Bearer`): an editor logs a run with an
 * artifact that MLflow's artifact proxy stores in MinIO; a viewer cannot write to it, an editor
 * cannot delete it, an admin can. The client side lives in python/client_scenario.py, which
 * prints one JSON object per action.
 */
import { runPython, stack, tokenFor, uniqueName, type DemoUser } from './stack.js';

const SCENARIO = new URL('./python/client_scenario.py', import.meta.url).pathname;
/** `--artifacts-destination` of the stack's MLflow server (scripts/stack/mlflow.sh). */
const ARTIFACTS_DESTINATION = `s3://${stack.S3_BUCKET ?? 'mlflow'}/artifacts`;
// The client imports slowly (~6 s) and each action is its own process.
const TIMEOUT = 180_000;

interface Refusable {
  ok: boolean;
  error_code?: string;
  http_status?: number;
  message?: string;
}

/** Runs one scenario action as `user` and returns its JSON; any other outcome fails with the output. */
async function asUser<T>(user: DemoUser, ...args: string[]): Promise<T> {
  const result = await runPython([SCENARIO, ...args], {
    MLFLOW_TRACKING_URI: stack.MLFLOW_URL!,
    MLFLOW_TRACKING_TOKEN: await tokenFor(user),
    // A broken stack should fail the test in seconds, not after the client's 7 retries with backoff.
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    MLFLOW_HTTP_REQUEST_TIMEOUT: '60',
    MLFLOW_DISABLE_TELEMETRY: 'true',
    EXPERIMENT_NAME: uniqueName('e2e-client'),
    MLFLOW_ARTIFACTS_DESTINATION: ARTIFACTS_DESTINATION,
    MINIO_URL: stack.MINIO_URL!,
    MINIO_ROOT_USER: stack.MINIO_ROOT_USER!,
    MINIO_ROOT_PASSWORD: stack.MINIO_ROOT_PASSWORD!,
  });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code !== 0 || !last.startsWith('{')) {
    throw new Error(
      `client_scenario.py ${args.join(' ')} as ${user} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr (tail)\n${result.stderr.slice(-4000)}`,
    );
  }
  return JSON.parse(last) as T;
}

/** The refusal as the client's exception shows it: the missing permission and the caller (authz-errors.conf, auth/reason.ts). */
const PERMISSION_DENIED = (permission: string, user: DemoUser) => ({
  ok: false,
  error_code: 'PERMISSION_DENIED',
  http_status: 403,
  message: `PERMISSION_DENIED: Permission denied: missing permission ${permission} for user ${user}`,
});

describe('the MLflow Python client through NGINX with a Keycloak token', () => {
  let runId: string;

  it(
    'logs a run with params, metrics and an artifact as an editor, and reads it all back',
    async () => {
      const created = await asUser<{
        experiment_id: string;
        run_id: string;
        artifact_uri: string;
        searched: { run_id: string; status: string; params: Record<string, string>; metrics: Record<string, number> }[];
        loss_history: number[];
        artifacts: string[];
        written_text: string;
        downloaded_text: string;
        minio: { bucket: string; key: string; text: string };
      }>('bob', 'create');
      runId = created.run_id;

      expect(created.searched).toEqual([
        { run_id: runId, status: 'FINISHED', params: { optimizer: 'adam', epochs: '3' }, metrics: { loss: 0.25 } },
      ]);
      expect(created.loss_history).toEqual([0.9, 0.5, 0.25]);
      // Artifacts go through MLflow's proxy (mlflow-artifacts:), not to MinIO from the client.
      expect(created.artifact_uri).toBe(`mlflow-artifacts:/${created.experiment_id}/${runId}/artifacts`);
      expect(created.artifacts).toEqual(['notes/hello.txt']);
      expect(created.downloaded_text).toBe(created.written_text);
      expect(created.minio).toEqual({
        bucket: stack.S3_BUCKET ?? 'mlflow',
        key: `artifacts/${created.experiment_id}/${runId}/artifacts/notes/hello.txt`,
        text: created.written_text,
      });
    },
    TIMEOUT,
  );

  it(
    "refuses a viewer's log_metric with 403 PERMISSION_DENIED, and nothing is logged",
    async () => {
      expect(runId).toBeDefined();
      const result = await asUser<Refusable & { history_after: number[] }>('carol', 'log-metric', runId);
      expect(result).toEqual({ ...PERMISSION_DENIED('runs#write', 'carol'), history_after: [] });
    },
    TIMEOUT,
  );

  it(
    "refuses an editor's delete_run with 403 PERMISSION_DENIED, and the run stays active",
    async () => {
      expect(runId).toBeDefined();
      const result = await asUser<Refusable & { lifecycle_stage_after: string }>('bob', 'delete-run', runId);
      expect(result).toEqual({ ...PERMISSION_DENIED('runs#delete', 'bob'), lifecycle_stage_after: 'active' });
    },
    TIMEOUT,
  );

  it(
    'lets an admin delete the run',
    async () => {
      expect(runId).toBeDefined();
      const result = await asUser<Refusable & { lifecycle_stage_after: string }>('alice', 'delete-run', runId);
      expect(result).toEqual({ ok: true, lifecycle_stage_after: 'deleted' });
    },
    TIMEOUT,
  );
});
