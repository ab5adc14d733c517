import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { configFiles, configProblems as problems } from '../helpers/config.js';

const BASE = { AUTHZ_ISSUER_URL: 'http://127.0.0.1:8080/realms/mlflow', AUTHZ_CLIENT_ID: 'nginx-authz' };

describe('session, login and basic options', () => {
  it('are off by default', () => {
    const config = loadConfig(BASE);
    expect(config.login.enabled).toBe(false);
    expect(config.basic).toMatchObject({ enabled: false, clientId: 'mlflow-cli', maxFailuresPerUser: 5, lockoutSeconds: 60 });
    expect(config.session).toMatchObject({
      cookieName: 'nginx_authz_session',
      idleTimeoutSeconds: 3600,
      absoluteTimeoutSeconds: 43200,
      refreshBeforeSeconds: 30,
    });
    expect(config.session.secret).toBeUndefined();
  });

  it('read from AUTHZ_* variables', () => {
    const config = loadConfig({
      ...BASE,
      AUTHZ_CLIENT_SECRET: 's',
      AUTHZ_LOGIN_ENABLED: 'true',
      AUTHZ_LOGIN_ALLOWED_HOSTS: 'a.example.com, b.example.com:8443',
      AUTHZ_BASIC_ENABLED: 'true',
      AUTHZ_BASIC_CLIENT_ID: 'cli',
      AUTHZ_SESSION_IDLE_TIMEOUT_SECONDS: '600',
    });
    expect(config.login.allowedHosts).toEqual(['a.example.com', 'b.example.com:8443']);
    expect(config.basic.clientId).toBe('cli');
    expect(config.session.idleTimeoutSeconds).toBe(600);
  });

  it('need the client secret for login (code grant on the confidential client)', () => {
    expect(problems({ ...BASE, AUTHZ_LOGIN_ENABLED: 'true' })).toEqual([
      expect.stringContaining('client.secret: required when login.enabled'),
    ]);
  });

  it('check the session secret without echoing it, and read it from a file', () => {
    const found = problems({ ...BASE, AUTHZ_SESSION_SECRET: 'short-secret-value' });
    expect(found).toEqual([expect.stringContaining('session.secret: at least 32 characters')]);
    expect(found.join()).not.toContain('short-secret-value');
    const dir = mkdtempSync(join(tmpdir(), 'authz-'));
    writeFileSync(join(dir, 'secret'), `${'k'.repeat(40)}\n`);
    expect(loadConfig({ ...BASE, AUTHZ_SESSION_SECRET_FILE: join(dir, 'secret') }).session.secret).toBe('k'.repeat(40));
    expect(problems({ ...BASE, AUTHZ_SESSION_SECRET_FILE: join(dir, 'missing') })).toEqual([
      expect.stringContaining('session.secretFile: cannot read'),
    ]);
  });

  it('refuse a return-to path for sign-out that could leave the site', () => {
    expect(problems({ ...BASE, AUTHZ_CONFIG: writeConfig('login:\n  postLogoutPath: "//evil.com"\n') })).toEqual([
      expect.stringContaining('login.postLogoutPath'),
    ]);
  });
});

function writeConfig(text: string): string {
  return configFiles('authz-')('config.yaml', text);
}
