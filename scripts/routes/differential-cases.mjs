// Request targets for the differential test (scripts/routes/differential.mjs): plain paths of
// every route MLflow serves, then twisted by 1-3 random mutations an attacker would try.
// Deterministic for a seed (mulberry32), no dependency.

/** A small seeded PRNG: same seed, same cases. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];
const EXPERIMENT_IDS = [
  '5',
  '0',
  '12',
  '05',
  '%35',
  '%2535',
  '%252535',
  '%25%33%35',
  '+5',
  '-5',
  '5.0',
  '5_0',
  '%D9%A5',
  '%EF%BC%95',
  '0x5',
  '1e1',
  '5%20',
  '%205',
  '%09' + '5',
  '99999999999999999999',
  'custom',
  '.',
  '%2e',
  '%252e',
  '..',
  '%2e%2e',
  '',
];
const DOTS = [
  '.',
  '..',
  '%2e',
  '%2E',
  '.%2e',
  '%2e.',
  '%2e%2e',
  '%2E%2E',
  '%252e',
  '%252e%252e',
  '%25252e%25252e',
  '%c0%ae%c0%ae',
  '%e0%80%ae',
  '..;',
  '.;',
  '..%00',
  '..%2f',
  '..%5c',
  '..\\',
];
const LOOK_ALIKES = {
  '/': ['%EF%BC%8F', '%E2%88%95', '%E2%81%84', '%C0%AF', '%E0%80%AF', '%F0%80%80%AF'],
  '.': ['%E2%80%A4', '%EF%BC%8E', '%C0%AE'],
  a: ['%D0%B0', '%EF%BD%81'],
  e: ['%D0%B5'],
  o: ['%D0%BE'],
  i: ['%C4%B1', '%D1%96'],
  s: ['%D1%95'],
  p: ['%D1%80'],
};
const QUERY_DECOYS = [
  '?/../../api/2.0/mlflow/runs/delete',
  '?path=..%2F5',
  '?path=%2535/r',
  '?path=5&path=6',
  '?experiment_id=5&experiment_id=6',
  '?experiment_id=%2535',
  '?experiment_id=05',
  '?experiment_id=%D9%A5',
  '?experiment_id=+5',
  '?experiment_id= 5',
  '?a=%2F..%2F',
  '#frag',
  '%3Fexperiment_id=5',
  '%23x',
  '?',
];

const hex = (code, rand) => {
  const h = code.toString(16).padStart(2, '0');
  return `%${rand() < 0.5 ? h.toUpperCase() : h}`;
};
const utf8Escapes = (char, rand) => [...Buffer.from(char, 'utf8')].map((byte) => hex(byte, rand)).join('');

/** Plain paths for a Flask-syntax rule (values chosen so the experiment-naming routes name one). */
function samplePath(rule, rand) {
  return rule.replace(/<(?:([a-z]+):)?(\w+)>/g, (_, converter, name) => {
    if (converter === 'int') return String(Math.floor(rand() * 50));
    if (converter === 'path') {
      if (name === 'artifact_path') return `${pick(EXPERIMENT_IDS.slice(0, 4), rand)}/0a1b2c/artifacts/model/MLmodel`;
      return pick(['a', 'a/b', 'x/y/z.js', 'static/js/main.js'], rand);
    }
    return pick(['abc', 'my-endpoint', '12', 'x1'], rand);
  });
}

const pick = (list, rand) => list[Math.floor(rand() * list.length)];

/** One mutation of a raw target (path, plus perhaps a query). */
function mutate(target, rand, plainPaths, catchAllPaths) {
  const [path, query] = splitQuery(target);
  const segments = path.split('/');
  const at = 1 + Math.floor(rand() * Math.max(1, segments.length - 1));
  segments[at] ??= '';
  switch (Math.floor(rand() * 16)) {
    case 0: {
      // percent-encode one character, any case
      const i = 1 + Math.floor(rand() * (path.length - 1));
      return path.slice(0, i) + utf8Escapes(path[i] ?? 'a', rand) + path.slice(i + 1) + query;
    }
    case 1: {
      // double / triple encode one character
      const i = 1 + Math.floor(rand() * (path.length - 1));
      const once = utf8Escapes(path[i] ?? 'a', rand);
      const times = 1 + Math.floor(rand() * 2);
      return path.slice(0, i) + once.replaceAll('%', `%${'25'.repeat(times)}`) + path.slice(i + 1) + query;
    }
    case 2: // a dot segment somewhere
      segments.splice(at, 0, pick(DOTS, rand));
      return segments.join('/') + query;
    case 3: {
      // traversal splice: <a prefix of another route>/../../<this path>
      // Half the time from a route ending in a catch-all (<path:...>): the raw-path routers give it the rest.
      const other = pick(rand() < 0.5 ? catchAllPaths : plainPaths, rand).split('/');
      const keep = 1 + Math.floor(rand() * (other.length - 1));
      const ups = Array.from({ length: Math.max(1, keep - 1 + Math.floor(rand() * 2)) }, () => pick(DOTS.slice(1, 8), rand));
      return [...other.slice(0, keep + 1), ...ups].join('/') + path + query;
    }
    case 4: // repeated slash
      segments.splice(at, 0, '');
      return segments.join('/') + query;
    case 5: // trailing slash(es)
      return path + pick(['/', '//', '/.', '/%2e'], rand) + query;
    case 6: // `;` parameters
      segments[at] = `${segments[at]}${pick([';', ';x=1', ';jsessionid=1', '%3B', '%3Bx'], rand)}`;
      return segments.join('/') + query;
    case 7: {
      // backslash as a separator
      const i = path.indexOf('/', 1 + Math.floor(rand() * (path.length - 1)));
      return i === -1 ? `${path}%5C${query}` : path.slice(0, i) + pick(['\\', '%5C', '%5c', '%255C'], rand) + path.slice(i + 1) + query;
    }
    case 8: // case
      segments[at] = rand() < 0.5 ? segments[at].toUpperCase() : segments[at].replace(/^./, (c) => c.toUpperCase());
      return segments.join('/') + query;
    case 9: {
      // overlong UTF-8 or look-alike for one character
      const candidates = [...path].map((c, i) => [c, i]).filter(([c, i]) => i > 0 && c in LOOK_ALIKES);
      if (candidates.length === 0) return path + query;
      const [c, i] = pick(candidates, rand);
      return path.slice(0, i) + pick(LOOK_ALIKES[c], rand) + path.slice(i + 1) + query;
    }
    case 10: // absolute form
      return `${pick(['http://127.0.0.1:5000', 'http://evil.example', 'HTTP://x', 'https://a@b'], rand)}${path}${query}`;
    case 11: // query decoys
      return path + pick(QUERY_DECOYS, rand);
    case 12: {
      // odd experiment ids where routes name them
      if (/mlflow-artifacts\/(artifacts|mpu\/\w+|presigned)\/./.test(path)) {
        return path.replace(/(mlflow-artifacts\/(?:artifacts|mpu\/\w+|presigned)\/)[^/]*/, `$1${pick(EXPERIMENT_IDS, rand)}`) + query;
      }
      if (/mlflow-artifacts\/artifacts$/.test(path)) return `${path}?path=${pick(EXPERIMENT_IDS, rand)}/r1${rand() < 0.3 ? '&path=5' : ''}`;
      return `${path}?experiment_id=${pick(EXPERIMENT_IDS, rand)}`;
    }
    case 13: // control characters, NUL, raw 8-bit
      segments[at] = `${segments[at]}${pick(['%00', '%0a', '%0d%0a', '%09', '%7f', '%2500', 'é', '%ff', '%c3'], rand)}`;
      return segments.join('/') + query;
    case 14: // encode a slash (once or more)
      return path.replace(/\/(?=[^/]*$)/, pick(['%2F', '%2f', '%252F', '%25252f'], rand)) + query;
    default: // leading double slash / empty path tricks
      return pick(['/', '//', '/./', '/%2e/'], rand) + path.replace(/^\/+/, '') + query;
  }
}

function splitQuery(target) {
  const at = target.search(/[?#]/);
  return at === -1 ? [target, ''] : [target.slice(0, at), target.slice(at)];
}

/**
 * `count` distinct [method, raw target] pairs: about one in eight plain, the rest with 1-3 mutations.
 * @param {{rule: string, methods: string[]}[]} endpoints MLflow's routes (the route dump)
 */
export function generate(endpoints, count, seed) {
  const rand = prng(seed);
  const routes = endpoints.filter((e) => !e.methods.includes('WEBSOCKET'));
  const plainPaths = routes.map((e) => samplePath(e.rule, rand));
  const catchAllPaths = routes.filter((e) => /<path:\w+>$/.test(e.rule)).map((e) => samplePath(e.rule.replace(/<path:\w+>$/, 'x'), rand));
  const cases = [];
  const seen = new Set();
  while (cases.length < count) {
    const endpoint = pick(routes, rand);
    const method = rand() < 0.85 ? pick(endpoint.methods, rand) : pick(METHODS, rand);
    let target = samplePath(endpoint.rule, rand);
    if (rand() >= 0.125) {
      const rounds = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < rounds; i++) target = mutate(target, rand, plainPaths, catchAllPaths);
    }
    const key = `${method} ${target}`;
    if (seen.has(key)) continue; // count distinct targets only
    seen.add(key);
    cases.push([method, target]);
  }
  return cases;
}
