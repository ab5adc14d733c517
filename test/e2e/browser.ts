/**
 * A real browser for the e2e tests: Debian's Chromium (scripts/stack/install.sh) driven by
 * playwright-core, and the sign-in on Keycloak's real login page.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { password, ROOT, stack, type DemoUser } from './stack.js';

/** Where screenshots go; CI keeps this folder (.ci/run prints it). */
export const ARTIFACTS = join(ROOT, 'test-artifacts');

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh profile. The flags keep it off the network beyond the stack
 * (the machine has no other network: without them Chromium floods refused connections).
 */
export async function openBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'nginx-authz-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** True when the page is Keycloak's login form. */
export async function onKeycloakLogin(page: Page): Promise<boolean> {
  return page.url().startsWith(`${stack.KC_URL}/realms/mlflow/`) && (await page.locator('#kc-login').count()) === 1;
}

/** Fills Keycloak's real login page and waits to be back on MLflow. */
export async function signIn(page: Page, user: DemoUser): Promise<void> {
  await page.locator('#username').waitFor({ timeout: 30_000 });
  await page.fill('#username', user);
  await page.fill('#password', password(user));
  await Promise.all([page.waitForURL((url) => url.href.startsWith(stack.MLFLOW_URL!), { timeout: 60_000 }), page.click('#kc-login')]);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path });
  return path;
}
