/**
 * The service's stdout logger writes in batches (src/log.ts): a single line still appears within the flush
 * interval while the process idles, and every line is written when the process exits right after logging.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const LOG = fileURLToPath(new URL('../dist/log.js', import.meta.url));

function node(script: string): { out: () => string; exited: Promise<unknown[]> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOG)};\n${script}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out: () => text, exited: once(child, 'exit') };
}

describe('createLogger on stdout', () => {
  it('a lone line reaches stdout within the flush interval, while the process keeps running', async () => {
    const run = node(`const log = createLogger('info'); log.info('lone line'); setTimeout(() => {}, 3000);`);
    const started = Date.now();
    while (!run.out().includes('lone line') && Date.now() - started < 2_500) await new Promise((r) => setTimeout(r, 20));
    expect(run.out()).toContain('"msg":"lone line"');
    expect(Date.now() - started).toBeLessThan(2_500);
    await run.exited;
  });

  it('every line is written when the process exits at once after logging', async () => {
    const run = node(`const log = createLogger('info'); for (let i = 0; i < 1000; i++) log.info({ i }, 'line'); process.exit(0);`);
    await run.exited;
    const lines = run.out().trim().split('\n');
    expect(lines).toHaveLength(1000);
    expect(JSON.parse(lines[999]!).i).toBe(999);
  });
});

describe('flatLineLogger', () => {
  /** A logger writing into an array of lines, and a flat child of it. */
  async function loggers(): Promise<{ lines: string[]; log: import('pino').Logger; flat: import('pino').Logger }> {
    const { createLogger, flatLineLogger } = await import('../src/log.js');
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    return { lines, log, flat: flatLineLogger(log, { audit: true }) };
  }

  it('writes a line of primitive values byte for byte as the fully redacting logger does', async () => {
    const { lines, log, flat } = await loggers();
    const line = {
      user: 'alice',
      token_fp: 'abc',
      method: 'GET',
      path: '/a,b%20"c"',
      cache_hit: true,
      latency_ms: 0.05,
      detail: undefined,
    };
    log.child({ audit: true }).info(line, 'decision');
    flat.info(line, 'decision');
    // Only the time may differ (the two lines are written a moment apart).
    const [full, flatLine] = lines.map((text) => text.replace(/"time":\d+,/, '"time":0,'));
    expect(lines).toHaveLength(2);
    expect(full).toContain('"path":"/a,b%20\\"c\\""');
    expect(flatLine).toBe(full);
  });

  it('still censors the secret field names at the top level of the line', async () => {
    const { lines, flat } = await loggers();
    flat.info({ token: 'eyJ.secret', authorization: 'Bearer eyJ.secret', password: 'pw', user: 'alice' }, 'decision');
    const written = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(written).toMatchObject({ token: '[redacted]', authorization: '[redacted]', password: '[redacted]', user: 'alice', audit: true });
    expect(lines[0]).not.toContain('secret');
  });
});
