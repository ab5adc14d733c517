/**
 * The documented examples run as written. Every fenced block of the repository's Markdown (the READMEs and
 * docs/, test/e2e/doc-blocks.ts) is extracted from the Markdown, and here the ones that need the stack run:
 * - shell blocks (```bash / ```sh / ```console) run in bash from the repository root, after
 *   `set -a; . .stack/env; set +a` as the README says, with `set -e -o pipefail`; a block that starts
 *   `npm start` (not `--check`) must answer `/readyz` on the port its "listens on 127.0.0.1:<port>"
 *   comment names, then stop on one SIGTERM;
 * - NGINX blocks are written to a temporary prefix beside a copy of nginx/snippets and must pass
 *   `nginx -t`; a complete one (with `events`) is also started on a free port, with its upstream
 *   addresses pointed at the stack's nginx-authz and MLflow, and requests go through it.
 * - Python blocks run with the stack's venv Python (`STACK_PYTHON`), after the same sourcing of
 *   `.stack/env` (which sets the `KC_TOKEN_URL`, `MLFLOW_URL`, ... the docs use), and must exit 0 without a
 *   traceback; a block defining the `keep_token_fresh` recipe is then also driven: its function, called
 *   with a 1 s interval, must replace `MLFLOW_TRACKING_TOKEN` twice (the second time with the rotated
 *   refresh token), and MLflow's own client must be served with the refreshed token.
 * - Data blocks need no stack: configuration and route tables are loaded by the service's loaders in
 *   test/config/doc-yaml-blocks.test.ts, Kubernetes manifests validated in test/docs/doc-kubernetes-blocks.test.ts.
 * A block is left out only when the Markdown marks it `<!-- doc-test: skip (reason) -->`. The inventory of
 * every block (run or checked, and by which test; skipped, with the reason; prose) is printed at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { DOC_FILES, type DocBlock, extractBlocks, inventory } from './doc-blocks.js';
import { ROOT, stack, tokenFor } from './stack.js';

const all = DOC_FILES.flatMap((file) => extractBlocks(ROOT, file));
// Data blocks need no stack (the unit tests named above check them); prose is not run.
const blocks = all.filter((block) => block.lang === 'bash' || block.lang === 'nginx' || block.lang === 'python');
// A block another test reads from its page (`doc-test: checked by`) is that test's.
const runnable = blocks.filter((block) => block.skip === undefined && block.checkedBy === undefined);
const where = (block: DocBlock): string => `${block.file}:${block.line}`;
/** What a shell block must never print even when it exits 0 (curl -s and print() hide failures). */
const FAILURE_TEXT = /Traceback|No module named|"error_code"|command not found|RestException/;

const BLOCK_MS = 300_000;

afterAll(() => {
  console.log(inventory(all));
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const script = (block: DocBlock): string => `set -e -o pipefail\nset -a; . .stack/env; set +a\n${block.text}\n`;
const isServe = (block: DocBlock): boolean => /\bnpm start\b(?!\s+--\s+--check)/.test(block.text);

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

async function runServe(block: DocBlock): Promise<void> {
  const port = /listens on 127\.0\.0\.1:(\d+)/.exec(block.text)?.[1];
  if (port === undefined) throw new Error(`${where(block)}: a block that runs npm start must say "listens on 127.0.0.1:<port>"`);
  // Only this block's service may answer there: another process on the documented port would pass for it.
  const taken = await fetch(`http://127.0.0.1:${port}/healthz`).then(
    () => true,
    () => false,
  );
  if (taken) throw new Error(`${where(block)}: 127.0.0.1:${port} is already in use by another process; the block cannot run as written`);
  const child = spawn('bash', ['-c', script(block)], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const ready = await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 120_000);
    if (!ready) throw new Error(`${where(block)}: no ready service on 127.0.0.1:${port}\n${output.slice(-3000)}`);
    expect(output).toContain(`"listen":"127.0.0.1:${port}"`); // the service this block started logged it, not a stranger
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
  }
  await exited;
  const closed = await waitFor(
    () =>
      fetch(`http://127.0.0.1:${port}/healthz`).then(
        () => false,
        () => true,
      ),
    10_000,
  );
  expect(closed).toBe(true);
}

/** GET with a chosen Host header (fetch does not let a caller set Host). */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A temporary NGINX prefix holding `text` as conf/nginx.conf beside a copy of nginx/snippets. A cache directory
 * the block puts under /run (a tmpfs on Debian, as the docs advise) is moved into the prefix, so the test leaves
 * nothing behind; the prefix is world-traversable because NGINX's workers, not root, write the cache files.
 */
function nginxPrefix(text: string): string {
  const prefix = mkdtempSync(`${tmpdir()}/doc-nginx-`);
  chmodSync(prefix, 0o755);
  mkdirSync(`${prefix}/conf`);
  mkdirSync(`${prefix}/logs`);
  mkdirSync(`${prefix}/run`); // /run exists on the hosts the docs address; NGINX creates only the last level
  cpSync(`${ROOT}/nginx/snippets`, `${prefix}/conf/snippets`, { recursive: true });
  const relocated = text.replace(/(\bproxy_cache_path\s+)\/run\//g, `$1${prefix}/run/`);
  // An http-level fragment (upstream/server) is checked inside a minimal main context.
  const conf = /^\s*events\b/m.test(relocated) || /^\s*http\s*\{/m.test(relocated) ? relocated : `events {}\nhttp {\n${relocated}\n}\n`;
  writeFileSync(`${prefix}/conf/nginx.conf`, conf);
  return prefix;
}

function nginxTest(prefix: string): { status: number | null; output: string } {
  const result = spawnSync('nginx', ['-t', '-q', '-p', `${prefix}/`, '-c', 'conf/nginx.conf', '-e', 'stderr'], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Starts a complete documented nginx.conf on a free port, aimed at the stack, and sends requests through it. */
async function exerciseNginx(block: DocBlock): Promise<void> {
  // Each `listen` gets a free port of its own (a block may have a second, loopback-only server); the first is the site.
  const listens = [...block.text.matchAll(/^(\s*)listen\s+[^;]+;/gm)];
  const ports: number[] = [];
  for (const _listen of listens) ports.push(await freePort());
  let next = 0;
  const port = ports[0]!;
  const aimed = block.text
    .replace(/server 127\.0\.0\.1:4180\b/g, `server 127.0.0.1:${stack.AUTHZ_PORT}`)
    .replace(/server 127\.0\.0\.1:5000\b/g, `server 127.0.0.1:${stack.MLFLOW_PORT}`)
    .replace(/^(\s*)listen\s+[^;]+;/gm, (_line, indent: string) => `${indent}listen 127.0.0.1:${ports[next++]};`);
  expect(aimed).not.toBe(block.text);
  const prefix = nginxPrefix(aimed);
  const child = spawn(
    'nginx',
    ['-p', `${prefix}/`, '-c', 'conf/nginx.conf', '-e', 'stderr', '-g', `daemon off; pid ${prefix}/nginx.pid;`],
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    const base = `http://127.0.0.1:${port}`;
    expect(await waitFor(async () => (await fetch(`${base}/`)).status > 0, 10_000)).toBe(true);
    // MLflow checks Host against its --allowed-hosts, which for the stack's MLflow lists the stack's NGINX.
    const host = `127.0.0.1:${stack.NGINX_MLFLOW_PORT}`;
    const search = `${base}/api/2.0/mlflow/experiments/search?max_results=1`;
    const asCarol = await get(search, { host, authorization: `Bearer ${await tokenFor('carol')}` });
    expect([asCarol.status, asCarol.body.slice(0, 200)]).toEqual([200, expect.stringContaining('experiments')]);
    const asDave = await get(search, { host, authorization: `Bearer ${await tokenFor('dave')}` });
    expect([asDave.status, asDave.body]).toEqual([403, expect.stringContaining('PERMISSION_DENIED')]);
    const anonymous = await get(search, { host });
    expect([anonymous.status, anonymous.body]).toEqual([401, expect.stringContaining('UNAUTHENTICATED')]);
    if (/\bproxy_cache_path\b/.test(block.text)) {
      // The decision cache as documented: carol's allow was stored (only allows are), and answers her again.
      const stored = readdirSync(`${prefix}/run`, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
      expect(stored.length).toBe(1);
      expect((await get(search, { host, authorization: `Bearer ${await tokenFor('carol')}` })).status).toBe(200);
    }
  } catch (error) {
    throw new Error(`${where(block)} started on ${port}: ${(error as Error).message}\nnginx: ${errors}`);
  } finally {
    // NGINX may have exited already (a config it refused at start): the error above says why, not ESRCH.
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
    await exited;
    rmSync(prefix, { recursive: true, force: true });
  }
}

test('the docs have command blocks, and marked skips are the exception', () => {
  expect(blocks.filter((block) => block.lang === 'bash').length).toBeGreaterThanOrEqual(5);
  expect(blocks.filter((block) => block.lang === 'nginx').length).toBeGreaterThanOrEqual(2);
  // Every command block of every page counts now, the long operator runs (benchmarks, mutation, soak) too, and those
  // are skipped: the share is taken over everything the doc tests check (data blocks included), as the inventory
  // test does, and the blocks run here may not drop below today's eight (4 shell, 2 NGINX, 1 Python and the cache's NGINX).
  const checkable = all.filter((block) => block.lang !== 'prose');
  expect(checkable.filter((block) => block.skip === undefined).length).toBeGreaterThan(checkable.length / 2);
  expect(runnable.length).toBeGreaterThanOrEqual(8);
});

describe.each(runnable.filter((block) => block.lang === 'nginx').map((block) => [where(block), block] as const))(
  'nginx block %s',
  (_name, block) => {
    test('passes nginx -t', () => {
      const prefix = nginxPrefix(block.text);
      const result = nginxTest(prefix);
      rmSync(prefix, { recursive: true, force: true });
      expect(result).toEqual({ status: 0, output: '' });
    });
    if (/^\s*events\b/m.test(block.text)) {
      test('works in front of the stack: 200 for a reader, 403 for a user without roles, 401 without credentials', async () => {
        await exerciseNginx(block);
      }, 60_000);
    }
  },
);

describe.each(runnable.filter((block) => block.lang === 'bash').map((block) => [where(block), block] as const))(
  'shell block %s',
  (_name, block) => {
    test(
      'runs as written',
      async () => {
        if (isServe(block)) {
          await runServe(block);
          return;
        }
        const result = spawnSync('bash', ['-c', script(block)], { cwd: ROOT, encoding: 'utf8', timeout: BLOCK_MS - 20_000 });
        const output = `${result.stdout}${result.stderr}`;
        if (result.status !== 0 || FAILURE_TEXT.test(output)) {
          throw new Error(
            `${where(block)} exited ${result.status} ${result.signal ?? ''}:\n${block.text}\n--- output ---\n${output.slice(-4000)}`,
          );
        }
      },
      BLOCK_MS,
    );
  },
);

/**
 * Drives the `keep_token_fresh` recipe after the block ran as written (its own 120 s thread keeps
 * running, harmlessly): a second thread of the documented function with a 1 s interval must renew the
 * token twice, and the MLflow client (which reads MLFLOW_TRACKING_TOKEN at each request) must then be
 * served through NGINX with the renewed token.
 */
const REFRESH_DRIVER = `
import os, sys, time
block = open(sys.argv[1]).read()
scope = {"__name__": "__main__"}
exec(compile(block, sys.argv[1], "exec"), scope)
tokens = [os.environ["MLFLOW_TRACKING_TOKEN"]]
scope["keep_token_fresh"](os.environ["KC_TOKEN_URL"], "mlflow-cli", scope["first"]["refresh_token"], every_s=1)
until = time.time() + 60
while len(tokens) < 3 and time.time() < until:
    time.sleep(0.1)
    if os.environ["MLFLOW_TRACKING_TOKEN"] != tokens[-1]:
        tokens.append(os.environ["MLFLOW_TRACKING_TOKEN"])
assert len(tokens) == 3, f"the token was renewed {len(tokens) - 1} times in 60 s"
import mlflow
mlflow.set_tracking_uri(os.environ["MLFLOW_URL"])
experiments = mlflow.search_experiments(max_results=1)
print(f"renewed twice; MLflow answered with the renewed token ({len(experiments)} experiment)")
`;

describe.each(runnable.filter((block) => block.lang === 'python').map((block) => [where(block), block] as const))(
  'python block %s',
  (_name, block) => {
    function runPython(args: string): string {
      const dir = mkdtempSync(join(tmpdir(), 'doc-python-'));
      try {
        writeFileSync(join(dir, 'block.py'), `${block.text}\n`);
        writeFileSync(join(dir, 'driver.py'), REFRESH_DRIVER);
        const command = `set -e -o pipefail\nset -a; . .stack/env; set +a\n"$STACK_PYTHON" ${args.replaceAll('DIR', dir)}\n`;
        const result = spawnSync('bash', ['-c', command], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
        const output = `${result.stdout}${result.stderr}`;
        if (result.status !== 0 || FAILURE_TEXT.test(output)) {
          throw new Error(
            `${where(block)} exited ${result.status} ${result.signal ?? ''}:\n${block.text}\n--- output ---\n${output.slice(-4000)}`,
          );
        }
        return output;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    test("runs as written with the stack's Python", () => {
      runPython('DIR/block.py');
    }, 150_000);

    if (/def keep_token_fresh\b/.test(block.text)) {
      test('keep_token_fresh renews the token, and MLflow accepts the renewed one', () => {
        expect(runPython('DIR/driver.py DIR/block.py')).toMatch(/renewed twice; MLflow answered with the renewed token/);
      }, 150_000);
    }
  },
);
