/**
 * Step 6 of /auth (src/auth/respond.ts), edges found unguarded by mutation round 5
 * (docs/mutation.md): a blank inside a value that needs encoding stays a blank, and a refusal
 * without an explanation is still answered by a real node:http response.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { headerSafe, sendRefusal } from '../../src/auth/respond.js';
import { Forbidden } from '../../src/errors.js';

describe('headerSafe on a value that needs encoding', () => {
  it('keeps blanks and printable ASCII as they are; encodes only the rest', () => {
    expect(headerSafe('Ann Lee, Ops', 100)).toBe('Ann Lee%2C Ops');
    expect(headerSafe('Zoë Doe', 100)).toBe('Zo%C3%AB Doe');
    expect(headerSafe(' \u001f~\u007f', 100)).toBe(' %1F~%7F');
  });
});

describe('sendRefusal through node:http', () => {
  /** Answers one request with `answer` and returns what the client received. */
  async function served(answer: (res: ServerResponse) => void): Promise<{ status: number; headers: Record<string, unknown> }> {
    const server = createServer((_req, res) => {
      try {
        answer(res);
      } catch {
        // node:http refuses a header it cannot send (an undefined value): the client sees 500.
        res.statusCode = 500;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`);
      return { status: res.status, headers: Object.fromEntries(res.headers) };
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('answers a refusal without a reason (400, 503) with no X-Authz-Reason header, and one with a reason with it', async () => {
    const bare = await served((res) => sendRefusal(res, new Forbidden('access_denied'), 'mlflow'));
    expect(bare.status).toBe(403);
    expect(bare.headers['x-authz-reason']).toBeUndefined();
    expect(bare.headers['x-accel-expires']).toBe('0');
    const explained = await served((res) => sendRefusal(res, new Forbidden('access_denied'), 'mlflow', 'Permission denied'));
    expect([explained.status, explained.headers['x-authz-reason']]).toEqual([403, 'Permission denied']);
  });
});
