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
