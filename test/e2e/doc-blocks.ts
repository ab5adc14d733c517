/**
 * Reads the fenced blocks out of the project's Markdown, so the doc tests run what the docs say and
 * not a copy of it. Every fence of every Markdown file of the repository (DOC_FILES) is one block:
 * shell (`bash`, `sh`, `shell`, `console`), `nginx`, `python`, data (`yaml`, `yml`, `json`: JSON is
 * YAML, and the config loader reads both) or prose (`text`, `mermaid`, none, any other language:
 * diagrams, output, formats; not run, but counted and listed).
 *
 * A comment on the last non-blank line before the fence says how a block is taken:
 * - `<!-- doc-test: skip (reason) -->`: not run here; the reason is printed by the tests.
 * - `<!-- doc-test: checked by <test file> -->`: a block another test reads from this page itself and runs with
 *   the tool it belongs to (e.g. docs/redis.md's ACL line, on a real redis-server); the inventory test checks
 *   that the file exists and names this page.
 * - Data blocks are checked by the tool they belong to, never merely parsed:
 *   - a Kubernetes manifest (every YAML document has `apiVersion` and `kind`; no comment needed) is
 *     validated by kubernetes-validate in strict mode (test/docs/doc-kubernetes-blocks.test.ts);
 *   - a mapping of Kubernetes annotations (every key a `<domain>/<name>` annotation; no comment
 *     needed) must be the same annotations, with the same values, as a manifest block validated so;
 *   - anything else is nginx-authz configuration, loaded by the service's own loaders (loadConfig,
 *     then loadRoutes; test/config/doc-yaml-blocks.test.ts):
 *     - no comment: a complete configuration file, loaded as it stands;
 *     - `<!-- doc-test: yaml config in <base file> at <key.path> -->`: a part of one. Its mapping is
 *       merged into the YAML file `<base file>` (relative to the repository root, e.g. one of
 *       examples/idp/) at `<key.path>` (dotted; `at .` for the top level): its keys replace the
 *       base's there, and the result is loaded as a complete file. So a snippet showing `policy:`
 *       is checked inside an issuer whose mode uses a policy, as the prose around it describes;
 *     - `<!-- doc-test: yaml routes -->`: a route table (the policy-enforcer `paths` format),
 *       loaded as `routes.file` on top of the MLflow preset, as an operator's file would be.
 *   - `<!-- doc-test: yaml helm values -->`: values for deploy/helm/nginx-authz, rendered with `helm template`
 *     and every manifest validated like the chart's own renders (test/docs/doc-kubernetes-blocks.test.ts).
 * - Shell, NGINX and Python blocks run against the stack (test/e2e/doc-examples.test.ts); Python
 *   blocks with the stack's Python (`STACK_PYTHON`) after `.stack/env` is sourced, as the docs tell
 *   the reader. They take no other comment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** Directories that hold no documentation of the project (dependencies, build output, run-time state). */
const NOT_DOCS = new Set(['node_modules', 'dist', 'test-artifacts', 'reports', 'coverage']);

/** Every Markdown file of the repository under `dir` (relative paths, sorted), skipping hidden and generated directories. */
export function markdownFiles(root: string, dir = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(`${root}/${dir}`, { withFileTypes: true })) {
    const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory() && !entry.name.startsWith('.') && !NOT_DOCS.has(entry.name)) found.push(...markdownFiles(root, path));
    else if (entry.isFile() && entry.name.endsWith('.md')) found.push(path);
  }
  return found.sort();
}

/** The Markdown files whose blocks are tested: all of the repository's (the READMEs and docs/), so a new page is covered too. */
export const DOC_FILES = markdownFiles(fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, ''));

/** One fenced block of a Markdown file. */
export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** `yaml` for every data block (YAML or JSON); `prose` for fences that are not run (see the header). */
  lang: 'bash' | 'nginx' | 'python' | 'yaml' | 'prose';
  /** The fence's own language word (`json`, `text`, `mermaid`, '' for none). */
  info: string;
  /** What runs: the block itself, or for `console` blocks the `$ ` lines (with their continuations). */
  text: string;
  /** Set when the block is marked not runnable here. */
  skip?: string;
  /** Set when another test reads the block from the page and checks it (`doc-test: checked by <file>`). */
  checkedBy?: string;
  /** For data blocks: what the block is (see the header comment). */
  yaml?: YamlRole;
}

/** How a data block is checked: a whole config file, a part merged into a base file, a route table, a Kubernetes manifest or its annotations. */
export type YamlRole =
  | { kind: 'config' }
  | { kind: 'config-part'; base: string; at: string[] }
  | { kind: 'routes' }
  | { kind: 'kubernetes' }
  | { kind: 'annotations' }
  | { kind: 'helm-values' };

const LANGS: Record<string, DocBlock['lang']> = {
  bash: 'bash',
  sh: 'bash',
  shell: 'bash',
  console: 'bash',
  nginx: 'nginx',
  python: 'python',
  py: 'python',
  yaml: 'yaml',
  yml: 'yaml',
  json: 'yaml',
};
const MARK = /^<!--\s*doc-test:\s*(.*?)\s*-->$/;
const SKIP = /^skip\s*\(?(.*?)\)?$/;
const YAML_PART = /^yaml config in (\S+) at (\S+)$/;
const CHECKED_BY = /^checked by (\S+)$/;

/** A Kubernetes annotation key: `<DNS prefix>/<name>`, e.g. `nginx.ingress.kubernetes.io/auth-url`. */
const ANNOTATION_KEY = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** What an unmarked data block is, by its content: Kubernetes manifests, Kubernetes annotations, else nginx-authz configuration. */
function dataKind(text: string): YamlRole {
  const documents = parseAllDocuments(text);
  const values: unknown[] = (Array.isArray(documents) ? documents : [documents]).map((doc) => doc.toJS()).filter((value) => value != null);
  const mappings = values.filter((value): value is Record<string, unknown> => typeof value === 'object' && !Array.isArray(value));
  if (mappings.length === 0 || mappings.length !== values.length) return { kind: 'config' };
  if (mappings.every((value) => typeof value.apiVersion === 'string' && typeof value.kind === 'string')) return { kind: 'kubernetes' };
  const keys = mappings.flatMap((value) => Object.keys(value));
  if (keys.length > 0 && keys.every((key) => ANNOTATION_KEY.test(key))) return { kind: 'annotations' };
  return { kind: 'config' };
}

/** The role a `doc-test:` comment gives a data block (none: by its content); an unknown comment is an error, not a silent pass. */
function yamlRole(mark: string | undefined, text: string, where: string): YamlRole {
  if (mark === undefined) return dataKind(text);
  if (mark === 'yaml routes') return { kind: 'routes' };
  if (mark === 'yaml helm values') return { kind: 'helm-values' };
  if (mark === 'yaml config') return { kind: 'config' };
  const part = YAML_PART.exec(mark);
  if (part) return { kind: 'config-part', base: part[1]!, at: part[2] === '.' ? [] : part[2]!.split('.') };
  throw new Error(`${where}: unknown doc-test comment "${mark}" before a yaml block (see test/e2e/doc-blocks.ts)`);
}

/** The `$ ` commands of a console transcript, keeping `\` continuation lines. */
function consoleCommands(lines: string[]): string {
  const out: string[] = [];
  let continuing = false;
  for (const line of lines) {
    if (continuing) out.push(line);
    else if (line.startsWith('$ ')) out.push(line.slice(2));
    else continue;
    continuing = line.endsWith('\\');
  }
  return out.join('\n');
}

/** Every fenced block of `file` (relative to `root`), prose included. */
export function extractBlocks(root: string, file: string): DocBlock[] {
  const lines = readFileSync(`${root}/${file}`, 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const lang = LANGS[open[2]!] ?? 'prose';
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i += 1) body.push(lines[i]!.slice(indent));
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before -= 1;
    const mark = before >= 0 ? MARK.exec(lines[before]!.trim())?.[1] : undefined;
    const skip = mark === undefined ? null : SKIP.exec(mark);
    const text = open[2] === 'console' ? consoleCommands(body) : body.join('\n');
    const block: DocBlock = { file, line: start + 1, lang, info: open[2]!, text };
    if (skip) {
      // A skip is a promise to the reader that the block was looked at: it says why it cannot run here.
      if (skip[1]!.trim() === '') throw new Error(`${file}:${start + 1}: a doc-test skip needs a reason: <!-- doc-test: skip (why) -->`);
      block.skip = skip[1]!.trim();
    } else if (mark !== undefined && CHECKED_BY.test(mark)) block.checkedBy = CHECKED_BY.exec(mark)![1]!;
    else if (lang === 'yaml') block.yaml = yamlRole(mark, text, `${file}:${start + 1}`);
    else if (mark !== undefined) throw new Error(`${file}:${start + 1}: unknown doc-test comment "${mark}"`);
    blocks.push(block);
  }
  return blocks;
}

/** Which test checks a block, and how (for the printed inventory). */
export function handling(block: DocBlock): string {
  if (block.skip !== undefined) return `skipped: ${block.skip}`;
  if (block.checkedBy !== undefined) return `read from the page and checked by ${block.checkedBy}`;
  switch (block.lang) {
    case 'bash':
      return 'run in bash against the stack (test/e2e/doc-examples.test.ts)';
    case 'nginx':
      return /^\s*events\b/m.test(block.text)
        ? 'nginx -t, then started in front of the stack (test/e2e/doc-examples.test.ts)'
        : 'nginx -t inside a minimal http block (test/e2e/doc-examples.test.ts)';
    case 'python':
      return "run with the stack's Python against MLflow through NGINX (test/e2e/doc-examples.test.ts)";
    case 'prose':
      return `prose (${block.info || 'no language'}): not a command or a configuration`;
    case 'yaml':
      switch (block.yaml!.kind) {
        case 'kubernetes':
          return 'validated by kubernetes-validate --strict (test/docs/doc-kubernetes-blocks.test.ts)';
        case 'helm-values':
          return 'helm template of deploy/helm/nginx-authz with these values, manifests validated (test/docs/doc-kubernetes-blocks.test.ts)';
        case 'annotations':
          return "compared with a validated manifest block's annotations (test/docs/doc-kubernetes-blocks.test.ts)";
        case 'routes':
          return 'loaded as routes.file by loadConfig + loadRoutes (test/config/doc-yaml-blocks.test.ts)';
        case 'config-part':
          return `merged into ${block.yaml!.base}, loaded by loadConfig + loadRoutes (test/config/doc-yaml-blocks.test.ts)`;
        default:
          return 'loaded by loadConfig + loadRoutes (test/config/doc-yaml-blocks.test.ts)';
      }
  }
}

/** The inventory the doc tests print: counts per outcome, then one line per block that is not checked and why. */
export function inventory(blocks: DocBlock[]): string {
  const checked = blocks.filter((block) => block.skip === undefined && (block.lang !== 'prose' || block.checkedBy !== undefined));
  const skipped = blocks.filter((block) => block.skip !== undefined);
  const prose = blocks.filter((block) => block.skip === undefined && block.lang === 'prose' && block.checkedBy === undefined);
  const byLang = (list: DocBlock[]): string =>
    Object.entries(
      list.reduce<Record<string, number>>((count, block) => {
        count[block.lang] = (count[block.lang] ?? 0) + 1;
        return count;
      }, {}),
    )
      .map(([lang, n]) => `${n} ${lang}`)
      .join(', ');
  const where = (block: DocBlock): string => `${block.file}:${block.line}`;
  return [
    `doc blocks: ${blocks.length} in ${new Set(blocks.map((block) => block.file)).size} Markdown files; ` +
      `${checked.length} run or checked (${byLang(checked)}), ${skipped.length} skipped, ${prose.length} prose`,
    ...checked.map((block) => `  check ${where(block)} [${block.info || 'none'}]: ${handling(block)}`),
    ...skipped.map((block) => `  skip  ${where(block)} [${block.info || 'none'}]: ${block.skip}`),
    ...prose.map((block) => `  prose ${where(block)} [${block.info || 'none'}]: ${block.text.split('\n')[0]!.trim().slice(0, 60)}`),
  ].join('\n');
}
