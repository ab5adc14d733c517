/** src/ops/health.ts: liveness never depends on the IdP; readiness says why it is not ready, one reason per problem. */
import express from 'express';
import request from 'supertest';
import { healthz, readyz } from '../../src/ops/health.js';

function app(problems: () => string[]) {
  const server = express();
  server.get('/healthz', healthz);
  server.get('/readyz', readyz(problems));
  return server;
}

describe('healthz', () => {
  it('answers 200 whatever readiness says', async () => {
    const res = await request(app(() => ['issuer primary: not discovered'])).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });
});

describe('readyz', () => {
  it('200 ready when nothing is wrong', async () => {
    const res = await request(app(() => [])).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready' });
  });

  it('503 with every reason, listed and joined, when something is', async () => {
    const reasons = ['issuer primary: discovery failed (HTTP 404)', 'client "nginx-authz" (PAT): HTTP 401 invalid_client'];
    const res = await request(app(() => reasons)).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'not ready', reason: reasons.join('; '), reasons });
  });

  it('asks again on every request: a service that became ready says so', async () => {
    let reasons = ['not checked yet'];
    const server = app(() => reasons);
    expect((await request(server).get('/readyz')).status).toBe(503);
    reasons = [];
    expect((await request(server).get('/readyz')).status).toBe(200);
  });
});
