/**
 * deploy/prometheus/: the scrape configuration and the alert rules, checked by the real promtool
 * (built from the Prometheus module by scripts/stack/install.sh): `check config`, `check rules`,
 * and `test rules` with alerts.test.yml, whose cases make each alert fire and not fire.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT, run, toolPath } from './tools.js';

const DIR = join(ROOT, 'deploy/prometheus');
const promtool = toolPath('PROMTOOL_BIN');

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}
interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const alerts = (): string[] =>
  (parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as RuleFile).groups.flatMap((g) => g.rules.flatMap((r) => r.alert ?? []));

describe('deploy/prometheus', () => {
  it('promtool check config accepts prometheus.yml and the rule file it loads', () => {
    const result = run(promtool, ['check', 'config', 'prometheus.yml'], { cwd: DIR });
    expect(result.stderr + result.stdout).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('promtool check rules accepts alerts.yml, and the issue’s alerts are all there', () => {
    const result = run(promtool, ['check', 'rules', 'alerts.yml'], { cwd: DIR });
    expect(result.stdout).toMatch(/SUCCESS: 10 rules found/);
    expect(result.status).toBe(0);
    expect(alerts().sort()).toEqual(
      [
        'NginxAuthzBackchannelLogoutsFailing',
        'NginxAuthzBasicLockouts',
        'NginxAuthzCacheHitRatioFalling',
        'NginxAuthzDenialRateJump',
        'NginxAuthzDown',
        'NginxAuthzIdpUnreachable',
        'NginxAuthzPatRenewalFailing',
        'NginxAuthzRedisUnreachable',
        'NginxAuthzSlowDecisions',
        'NginxAuthzUnavailableDecisions',
      ].sort(),
    );
  });

  it('promtool test rules: every alert fires on its input series, and not before or for the others', () => {
    const tests = parse(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as RuleTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts()) {
      expect({ alert, fires: cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, quiet: cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0) }).toEqual({ alert, quiet: true });
    }
    const result = run(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: DIR });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('promtool test rules fails for each alert whose rule never fires (each alert’s firing case is real)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nginx-authz-rules-'));
    try {
      writeFileSync(join(dir, 'alerts.test.yml'), readFileSync(join(DIR, 'alerts.test.yml')));
      const failedFor: string[] = [];
      for (const alert of alerts()) {
        const file = parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as RuleFile;
        for (const rule of file.groups.flatMap((g) => g.rules)) if (rule.alert === alert) rule.expr = 'vector(1) == 0';
        writeFileSync(join(dir, 'alerts.yml'), stringify(file));
        const result = run(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
        if (result.status !== 0 && (result.stdout + result.stderr).includes(`alertname: ${alert}`)) failedFor.push(alert);
      }
      expect(failedFor).toEqual(alerts());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('promtool test rules fails when an alert is weakened (the tests can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nginx-authz-rules-'));
    try {
      // The p99 threshold raised above what the slow series produce: its expected alert must go missing.
      const weakened = readFileSync(join(DIR, 'alerts.yml'), 'utf8').replace(
        'rate(authz_decision_duration_seconds_bucket[5m]))) > 0.25',
        'rate(authz_decision_duration_seconds_bucket[5m]))) > 1',
      );
      expect(weakened).not.toBe(readFileSync(join(DIR, 'alerts.yml'), 'utf8'));
      writeFileSync(join(dir, 'alerts.yml'), weakened);
      writeFileSync(join(dir, 'alerts.test.yml'), readFileSync(join(DIR, 'alerts.test.yml')));
      const result = run(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain('NginxAuthzSlowDecisions');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
