/**
 * docker-compose.yml, Dockerfile and nginx/compose/nginx.conf checked against the repository, without Docker:
 * services, bind mounts, published ports, AUTHZ_* names (and the service's own config validation of the compose
 * environment), the image (non-root, healthcheck, port, start command), the Keycloak issuer wiring, the shell
 * scripts inside the compose file, and the compose NGINX config (`nginx -t` with the host's nginx when present).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ENV_OVERRIDES, loadConfig } from '../src/config/load.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Env = Record<string, string>;
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Env | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  ports?: (string | number | { host_ip?: string; published?: string | number; target?: number })[];
  expose?: (string | number)[];
  healthcheck?: { test?: string | string[] };
  depends_on?: string[] | Record<string, { condition?: string }>;
}

/** Compose interpolation with no variables set: `${X:-default}` → default, `${X}` → '', `$$` → `$`. */
function interpolate<T>(value: T): T {
  if (typeof value === 'string') {
    return value
      .replace(/\$\$/g, '\u0000')
      .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '')
      .replace(/\u0000/g, '$') as T;
  }
  if (Array.isArray(value)) return value.map(interpolate) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v)])) as T;
  }
  return value;
}

const compose = interpolate(parse(read('docker-compose.yml')) as { services: Record<string, Service>; volumes?: Record<string, unknown> });
const services = compose.services;
const svc = (name: string): Service => {
  const service = services[name];
  if (service === undefined) throw new Error(`service ${name} missing from docker-compose.yml`);
  return service;
};
const envOf = (service: Service): Env => {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? '')]));
  return Object.fromEntries(
    env.map((entry) => [entry.split('=')[0] ?? '', entry.includes('=') ? entry.slice(entry.indexOf('=') + 1) : '']),
  );
};
const argv = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : value.split(/\s+/);
/** The script of a `sh -c`-style command (last element), or the command line itself. */
const scriptOf = (service: Service): string => {
  const all = [...argv(service.entrypoint), ...argv(service.command)];
  return all[all.length - 1] ?? '';
};
const mounts = (service: Service): { source: string; target: string; bind: boolean }[] =>
  (service.volumes ?? []).map((volume) => {
    if (typeof volume === 'string') {
      const [source = '', target = ''] = volume.split(':');
      return { source, target, bind: source.startsWith('.') || source.startsWith('/') };
    }
    return { source: volume.source ?? '', target: volume.target ?? '', bind: volume.type === 'bind' };
  });
const published = (service: Service): { hostIp: string; hostPort: string; containerPort: string }[] =>
  (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { hostIp: port.host_ip ?? '', hostPort: String(port.published ?? ''), containerPort: String(port.target ?? '') };
    }
    const parts = String(port).split(':');
    if (parts.length === 3) return { hostIp: parts[0] ?? '', hostPort: parts[1] ?? '', containerPort: parts[2] ?? '' };
    return { hostIp: '', hostPort: parts.length === 2 ? (parts[0] ?? '') : '', containerPort: parts[parts.length - 1] ?? '' };
  });

/** Dockerfile instructions (continuation lines joined), per stage. */
function dockerfileStages(text: string): { from: string; instructions: { op: string; args: string }[] }[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: { from: string; instructions: { op: string; args: string }[] }[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') stages.push({ from: args, instructions: [] });
    else stages[stages.length - 1]?.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}
const dockerfile = dockerfileStages(read('Dockerfile'));
const runtime = dockerfile[dockerfile.length - 1]!;
const runtimeOps = (op: string): string[] => runtime.instructions.filter((i) => i.op === op).map((i) => i.args);

const nginxConf = read('nginx/compose/nginx.conf');
const nginxDirectives = nginxConf
  .split('\n')
  .map((line) => line.replace(/#.*$/, '').trim())
  .filter((line) => line !== '');

describe('docker-compose.yml', () => {
  it('has every service of the stack', () => {
    for (const name of ['postgres', 'keycloak', 'minio', 'minio-init', 'mlflow', 'nginx-authz', 'nginx', 'redis']) {
      expect(services).toHaveProperty([name]);
    }
  });

  it('bind-mounts only paths that exist in the repository, and declares its named volumes', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const mount of mounts(service)) {
        if (mount.bind) {
          expect({ service: name, source: mount.source, exists: existsSync(join(ROOT, mount.source)) }).toEqual({
            service: name,
            source: mount.source,
            exists: true,
          });
        } else {
          expect(compose.volumes ?? {}).toHaveProperty([mount.source]);
        }
      }
    }
  });

  it('uses only AUTHZ_* names the service knows, and the nginx-authz environment passes its config validation', () => {
    const known = new Set([...Object.keys(ENV_OVERRIDES), 'AUTHZ_CONFIG']);
    const dockerfileEnv = Object.fromEntries(
      dockerfile.flatMap((stage) => stage.instructions.filter((i) => i.op === 'ENV').map((i) => i.args.split('=', 2) as [string, string])),
    );
    const used = [...Object.values(services).flatMap((service) => Object.keys(envOf(service))), ...Object.keys(dockerfileEnv)].filter(
      (name) => name.startsWith('AUTHZ_'),
    );
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !known.has(name))).toEqual([]);

    const config = loadConfig({ ...dockerfileEnv, ...envOf(svc('nginx-authz')) });
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.client.id).toBe('nginx-authz');
  });

  it('runs nginx-authz on the Redis session store of its redis service (password required, nothing kept on disk), so replicas can be added', () => {
    const config = loadConfig(envOf(svc('nginx-authz')));
    expect(config.session.store).toBe('redis');
    expect(new URL(config.redis.url!).host).toBe('redis:6379');
    expect(config.redis.password).toBeTruthy();
    expect(svc('nginx-authz').depends_on).toHaveProperty(['redis', 'condition'], 'service_healthy');
    const script = scriptOf(svc('redis'));
    expect(script).toContain('redis-server --requirepass "$REDIS_PASSWORD"'); // from its environment, not the command line
    expect(script).toContain("--save '' --appendonly no");
    expect(envOf(svc('redis')).REDIS_PASSWORD).toBe(config.redis.password);
  });

  it('publishes ports on 127.0.0.1 only, and only for NGINX and Keycloak', () => {
    const publishing = Object.entries(services)
      .filter(([, service]) => (service.ports ?? []).length > 0)
      .map(([name]) => name)
      .sort();
    expect(publishing).toEqual(['keycloak', 'nginx']);
    for (const name of publishing) {
      for (const port of published(svc(name)))
        expect({ service: name, hostIp: port.hostIp }).toEqual({ service: name, hostIp: '127.0.0.1' });
    }
    expect(svc('mlflow').ports ?? []).toEqual([]);
    expect(svc('minio').ports ?? []).toEqual([]);
  });

  it('builds nginx-authz from the Dockerfile, on the port the image exposes and NGINX proxies to', () => {
    const service = svc('nginx-authz');
    const build = typeof service.build === 'string' ? { context: service.build } : (service.build ?? {});
    expect(build.context).toBe('.');
    expect(build.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    const exposed = runtimeOps('EXPOSE')
      .flatMap((args) => args.split(/\s+/))
      .map((port) => port.replace(/\/tcp$/, ''));
    expect(exposed).toEqual(['4180']);
    const port = envOf(service).AUTHZ_PORT ?? '4180';
    expect(port).toBe('4180');
    expect((service.expose ?? []).map(String)).toEqual(['4180']);
    expect(nginxDirectives).toContain('server nginx-authz:4180;');
  });

  it('imports keycloak/mlflow-realm.json into Keycloak, with an issuer users and the service agree on', () => {
    const keycloak = svc('keycloak');
    const realmMount = mounts(keycloak).find((mount) => mount.target.startsWith('/opt/keycloak/data/import/'));
    expect(realmMount?.source.replace(/^\.\//, '')).toBe('keycloak/mlflow-realm.json');
    expect(argv(keycloak.command)).toEqual(expect.arrayContaining(['start-dev', '--import-realm']));
    const realm = JSON.parse(read('keycloak/mlflow-realm.json')) as { realm: string; clients: { clientId: string }[] };

    const kcEnv = envOf(keycloak);
    // Tokens from the host carry KC_HOSTNAME's issuer; the published port must be the one it names.
    const frontend = new URL(kcEnv.KC_HOSTNAME ?? '');
    expect(frontend.hostname).toBe('localhost');
    expect(published(keycloak).map((p) => `${p.hostPort}:${p.containerPort}`)).toContain(`${frontend.port}:${frontend.port}`);
    expect(kcEnv.KC_HOSTNAME_BACKCHANNEL_DYNAMIC).toBe('true');
    expect(kcEnv.KC_BOOTSTRAP_ADMIN_USERNAME).toBeTruthy();

    // The service discovers through the network, from the document itself (so the issuer is the one it names).
    const authzEnv = envOf(svc('nginx-authz'));
    const discovery = new URL(authzEnv.AUTHZ_ISSUER_URL ?? '');
    expect(discovery.hostname).toBe('keycloak');
    expect(discovery.port).toBe(frontend.port);
    expect(discovery.pathname).toBe(`/realms/${realm.realm}/.well-known/openid-configuration`);
    expect(authzEnv.AUTHZ_ALLOW_INSECURE_ISSUER).toBe('true');
    expect(realm.clients.map((client) => client.clientId)).toContain(authzEnv.AUTHZ_CLIENT_ID);
    // The realm file takes the client secret from NGINX_AUTHZ_CLIENT_SECRET at import.
    expect(read('keycloak/mlflow-realm.json')).toContain('${NGINX_AUTHZ_CLIENT_SECRET:');
    expect(kcEnv.NGINX_AUTHZ_CLIENT_SECRET).toBe(authzEnv.AUTHZ_CLIENT_SECRET);
  });

  it('runs MLflow on PostgreSQL with artifacts proxied to MinIO, accepting the Host NGINX passes', () => {
    const script = scriptOf(svc('mlflow'));
    expect(script).toContain('mlflow==3.17.2');
    expect(script).toMatch(/--backend-store-uri "postgresql(\+psycopg2)?:\/\/[^"]*@postgres:5432\//);
    expect(script).toContain('--artifacts-destination s3://mlflow/artifacts --serve-artifacts');
    expect(script).toContain('--host 0.0.0.0 --port 5000');
    const hosts = /--allowed-hosts "([^"]+)"/.exec(script)?.[1]?.split(',') ?? [];
    for (const port of published(svc('nginx')).filter((p) => p.containerPort === '8000')) {
      expect(hosts).toEqual(expect.arrayContaining([`localhost:${port.hostPort}`, `127.0.0.1:${port.hostPort}`]));
    }
    expect(envOf(svc('mlflow')).MLFLOW_S3_ENDPOINT_URL).toBe('http://minio:9000');
    expect(argv(svc('minio').command).join(' ')).toContain('--address :9000');
    expect(nginxDirectives).toEqual(expect.arrayContaining(['server mlflow:5000;', 'server minio:9000;']));
  });

  it('shares the S3 gateway Referer between NGINX and the bucket policy', () => {
    const referer = envOf(svc('nginx')).S3_GATEWAY_REFERER;
    expect(referer).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(envOf(svc('minio-init')).S3_GATEWAY_REFERER).toBe(referer);
    expect(scriptOf(svc('nginx'))).toContain('/etc/nginx/s3-gateway-referer.conf');
    expect(nginxDirectives).toContain('include s3-gateway-referer.conf;');
  });

  it('has shell scripts that parse, and minio-init writes the Referer-gated policy of scripts/stack/minio.sh', () => {
    for (const name of ['minio-init', 'mlflow', 'nginx']) {
      const result = spawnSync('sh', ['-n', '-c', scriptOf(svc(name))], { encoding: 'utf8' });
      expect({ service: name, status: result.status, stderr: result.stderr }).toEqual({ service: name, status: 0, stderr: '' });
    }
    // Run minio-init's script with a stand-in `mc` that records its calls and keeps the policy file.
    const dir = mkdtempSync(join(tmpdir(), 'authz-compose-mc-'));
    try {
      writeFileSync(
        join(dir, 'mc'),
        `#!/bin/sh\necho "$*" >> "${dir}/calls"\n[ "$1 $2" = "anonymous set-json" ] && cp "$3" "${dir}/policy.json"\nexit 0\n`,
      );
      chmodSync(join(dir, 'mc'), 0o755);
      const env = { PATH: `${dir}:${process.env.PATH ?? ''}`, ...envOf(svc('minio-init')) };
      const result = spawnSync('sh', ['-ec', scriptOf(svc('minio-init'))], { encoding: 'utf8', env });
      expect(result.status).toBe(0);
      const calls = readFileSync(join(dir, 'calls'), 'utf8');
      expect(calls).toContain('mb --ignore-existing local/mlflow');
      expect(calls).toContain('anonymous set-json');
      const policy = JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')) as {
        Statement: { Resource: string[]; Condition: { StringEquals: Record<string, string[]> }; Action: string[] }[];
      };
      expect(policy.Statement.flatMap((s) => s.Resource).sort()).toEqual(['arn:aws:s3:::mlflow', 'arn:aws:s3:::mlflow/*']);
      for (const statement of policy.Statement) {
        expect(statement.Condition.StringEquals['aws:Referer']).toEqual([envOf(svc('minio-init')).S3_GATEWAY_REFERER]);
      }
      // Same actions as the non-Docker stack's policy.
      const stackScript = read('scripts/stack/minio.sh');
      for (const action of policy.Statement.flatMap((s) => s.Action)) expect(stackScript).toContain(`"${action}"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts NGINX only after the service is ready, and MLflow after the bucket exists', () => {
    const dependsOn = (name: string) => svc(name).depends_on as Record<string, { condition?: string }>;
    expect(dependsOn('nginx')['nginx-authz']?.condition).toBe('service_healthy');
    expect(dependsOn('nginx-authz').keycloak?.condition).toBe('service_healthy');
    expect(dependsOn('mlflow')['minio-init']?.condition).toBe('service_completed_successfully');
    expect(JSON.stringify(svc('nginx-authz').healthcheck?.test)).toContain('/readyz');
  });
});

describe('Dockerfile', () => {
  it('builds with npm ci + npm run build and ships production dependencies and dist/ (with the route presets)', () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    // The image runs the Node major CI tests on (the pinned `node` devDependency, package.json).
    const major = (
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> }
    ).devDependencies.node!.split('.')[0];
    expect(major).toBe('24');
    for (const stage of dockerfile) expect(stage.from).toMatch(new RegExp(`^node:${major}[-.\\w]*( AS \\w+)?$`, 'i'));
    const build = dockerfile[0]!.instructions
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(build).toContain('npm ci');
    expect(build).toContain('npm run build');
    expect(runtimeOps('RUN').join('\n')).toContain('npm ci --omit=dev');
    expect(runtimeOps('COPY')).toContainEqual(expect.stringMatching(/^--from=\w+ \/app\/dist \.\/dist$/));
    // `npm run build` copies the presets into dist/ (the runtime copies dist/ whole).
    expect((JSON.parse(read('package.json')) as { scripts: Env }).scripts.build).toContain("'dist/routes/presets'");
  });

  it('runs as a non-root user and listens on all interfaces', () => {
    const users = runtimeOps('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:|$)/);
    expect(runtimeOps('ENV')).toContain('AUTHZ_HOST=0.0.0.0');
  });

  it('has a node HEALTHCHECK on /healthz and starts like `npm start`, with node directly', () => {
    const healthcheck = runtimeOps('HEALTHCHECK').join(' ');
    expect(healthcheck).toContain('CMD ["node"');
    expect(healthcheck).toContain('http://127.0.0.1:');
    expect(healthcheck).toContain('/healthz');
    const cmd = JSON.parse(runtimeOps('CMD').at(-1) ?? 'null') as string[];
    // `npm start` may set variables first (VAR=value node ...): those must be ENV in the image.
    const start = (JSON.parse(read('package.json')) as { scripts: Env }).scripts.start!.trim().split(/\s+/);
    const assignments = start.filter((word, i) => /^[A-Z_][A-Z0-9_]*=/.test(word) && start.slice(0, i).every((w) => w.includes('=')));
    const command = start.slice(assignments.length);
    expect(cmd).toEqual(command[0] === 'exec' ? command.slice(1) : command); // `exec`: sh hands the process to node (one SIGTERM stops it)
    expect(cmd[0]).toBe('node');
    for (const assignment of assignments) expect(runtimeOps('ENV')).toContain(assignment);
  });

  it('keeps local state out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.stack', '.git', 'coverage', 'artifacts']));
  });
});

describe('nginx/compose/nginx.conf', () => {
  const includes = nginxDirectives
    .map((line) => /^include\s+snippets\/([^;\s]+);$/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);

  it('includes the repository snippets, mounted where its includes resolve', () => {
    expect(new Set(includes)).toEqual(
      new Set(['authz-location.conf', 'authz-errors.conf', 'authz-protect.conf', 'authz-subrequest.conf', 'proxy-streaming.conf']),
    );
    for (const name of includes) expect(existsSync(join(ROOT, 'nginx/snippets', name))).toBe(true);
    const nginxMounts = mounts(svc('nginx'));
    expect(nginxMounts).toContainEqual({ source: './nginx/compose/nginx.conf', target: '/etc/nginx/nginx.conf', bind: true });
    expect(nginxMounts).toContainEqual({ source: './nginx/snippets', target: '/etc/nginx/snippets', bind: true });
  });

  it('keeps the stack template: upstream keepalive, the S3 front logic, the upstream identity log', () => {
    const template = readFileSync(join(ROOT, 'nginx/nginx.conf.template'), 'utf8');
    for (const line of [
      'keepalive 32;',
      'keepalive_timeout 60s;',
      'keepalive 16;',
      'ignore_invalid_headers off;',
      'proxy_pass http://nginx_authz/auth/minio;',
      'proxy_set_header Authorization "";',
      'proxy_set_header Referer "";',
      'if ($s3_auth_kind = signed) { return 418; }',
      'if ($s3_auth_kind = none)   { return 419; }',
    ]) {
      expect(template).toContain(line);
      expect(nginxConf).toContain(line);
    }
    // The two S3 maps, verbatim.
    const maps = (text: string) => text.match(/map [^{]+\{[^}]+\}/g);
    expect(maps(nginxConf)).toEqual(maps(template));
    expect(nginxConf).toMatch(/log_format authz_upstream escape=json/);
    expect(nginxDirectives.filter((line) => /^access_log \S+ authz_upstream;$/.test(line))).toHaveLength(2);
    // Proxies to compose services only (no leftover loopback upstreams or placeholders).
    expect(nginxConf).not.toContain('@@');
    const upstreamHosts = nginxDirectives
      .map((line) => /^server\s+([^:\s;]+):\d+;$/.exec(line)?.[1])
      .filter((host): host is string => host !== undefined);
    expect(upstreamHosts.sort()).toEqual(['minio', 'mlflow', 'nginx-authz']);
    for (const host of upstreamHosts) expect(services).toHaveProperty([host]);
  });

  // The binary the stack uses (scripts/stack/lib.sh: NGINX_BIN, else nginx on PATH). Without one the
  // check is an explicit, counted skip on a workstation and a failure in CI (.ci/run also refuses skips).
  const nginxBin = [
    process.env.NGINX_BIN,
    ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'nginx')),
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
    '/usr/local/nginx/sbin/nginx',
  ].find((path): path is string => path !== undefined && path !== 'nginx' && existsSync(path));
  const withNginx = nginxBin === undefined && process.env.CI !== 'true' ? it.skip : it;
  withNginx('passes `nginx -t` (service names replaced by 127.0.0.1, snippets beside it)', () => {
    if (nginxBin === undefined)
      throw new Error(
        'no nginx binary (set NGINX_BIN or put nginx on PATH; scripts/stack/install.sh installs it): CI must run the `nginx -t` check',
      );
    const prefix = mkdtempSync(join(tmpdir(), 'authz-compose-nginx-'));
    try {
      mkdirSync(join(prefix, 'conf'));
      mkdirSync(join(prefix, 'temp'));
      cpSync(join(ROOT, 'nginx/snippets'), join(prefix, 'conf/snippets'), { recursive: true });
      expect(readdirSync(join(prefix, 'conf/snippets'))).toEqual(expect.arrayContaining(includes));
      // What the nginx service's command writes at start.
      writeFileSync(
        join(prefix, 'conf/s3-gateway-referer.conf'),
        `proxy_set_header Referer "${envOf(svc('nginx')).S3_GATEWAY_REFERER}";\n`,
      );
      const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((kind) => `    ${kind}_temp_path ${prefix}/temp/${kind};`)
        .join('\n');
      const conf = nginxConf
        .replace(/server (nginx-authz|mlflow|minio):(\d+);/g, 'server 127.0.0.1:$2;')
        // /dev/stdout and /dev/stderr cannot be opened when they are sockets (as under some runners): files instead.
        .replace(/\/dev\/(stdout|stderr)/g, `${prefix}/$1.log`)
        .replace(/^http \{$/m, `pid ${prefix}/nginx.pid;\nhttp {\n${temp}`);
      writeFileSync(join(prefix, 'conf/nginx.conf'), conf);
      const result = spawnSync(nginxBin, ['-t', '-p', prefix, '-c', join(prefix, 'conf/nginx.conf'), '-e', join(prefix, 'error.log')], {
        encoding: 'utf8',
      });
      expect({ status: result.status, output: result.stderr }).toEqual({
        status: 0,
        output: expect.stringContaining('test is successful'),
      });
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });
});
