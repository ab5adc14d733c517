/**
 * Reads the fenced blocks out of the project's Markdown, so the doc-examples test runs what the
 * docs say and not a copy of it: shell (`bash`, `sh`, `shell`, `console`), `nginx`, `python` and
 * `yaml` blocks. Other languages (`json`, `text`, none) are prose.
 *
 * A comment on the last non-blank line before the fence says how a block is taken:
 * - `<!-- doc-test: skip (reason) -->`: not run here; the reason is printed by the test.
 * - YAML blocks are configuration and are loaded by the service's own loaders
 *   (loadConfig, then loadRoutes), never merely parsed:
 *   - no comment: a complete configuration file, loaded as it stands;
 *   - `<!-- doc-test: yaml config in <base file> at <key.path> -->`: a part of one. Its mapping is
 *     merged into the YAML file `<base file>` (relative to the repository root, e.g. one of
 *     examples/idp/) at `<key.path>` (dotted; `at .` for the top level): its keys replace the
 *     base's there, and the result is loaded as a complete file. So a snippet showing `policy:`
 *     is checked inside an issuer whose mode uses a policy, as the prose around it describes;
 *   - `<!-- doc-test: yaml routes -->`: a route table (the policy-enforcer `paths` format),
 *     loaded as `routes.file` on top of the MLflow preset, as an operator's file would be.
 * - Python blocks run with the stack's Python (`STACK_PYTHON`) after `.stack/env` is sourced,
 *   as the docs tell the reader; they take no comment.
 */
import { readFileSync } from 'node:fs';

/** The Markdown files whose blocks are tested: the READMEs and the docs/ pages that were README sections. */
export const DOC_FILES = [
  'README.md',
  'nginx/README.md',
  'keycloak/README.md',
  'scripts/stack/README.md',
  // The README's former sections (their long-running commands, e.g. docs/resilience.md's, are not here).
  ...['clients', 'configuration', 'decisions', 'development', 'idp', 'operations', 'security', 'speed'].map((name) => `docs/${name}.md`),
];

/** One fenced block of a Markdown file. */
export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'bash' | 'nginx' | 'python' | 'yaml';
  /** What runs: the block itself, or for `console` blocks the `$ ` lines (with their continuations). */
  text: string;
  /** Set when the block is marked not runnable here. */
  skip?: string;
  /** For YAML: what the block is (see the header comment). */
  yaml?: YamlRole;
}

/** How a YAML block is loaded: a whole config file, a part merged into a base file, or a route table. */
export type YamlRole = { kind: 'config' } | { kind: 'config-part'; base: string; at: string[] } | { kind: 'routes' };

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
};
const MARK = /^<!--\s*doc-test:\s*(.*?)\s*-->$/;
const SKIP = /^skip\s*\(?(.*?)\)?$/;
const YAML_PART = /^yaml config in (\S+) at (\S+)$/;

/** The YAML role a `doc-test:` comment gives (none: a complete config); an unknown comment is an error, not a silent pass. */
function yamlRole(mark: string | undefined, where: string): YamlRole {
  if (mark === undefined) return { kind: 'config' };
  if (mark === 'yaml routes') return { kind: 'routes' };
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

/** Every shell, nginx, python and yaml block of `file` (relative to `root`). */
export function extractBlocks(root: string, file: string): DocBlock[] {
  const lines = readFileSync(`${root}/${file}`, 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const lang = LANGS[open[2]!];
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i += 1) body.push(lines[i]!.slice(indent));
    if (lang === undefined) continue;
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before -= 1;
    const mark = before >= 0 ? MARK.exec(lines[before]!.trim())?.[1] : undefined;
    const skip = mark === undefined ? null : SKIP.exec(mark);
    const text = open[2] === 'console' ? consoleCommands(body) : body.join('\n');
    const block: DocBlock = { file, line: start + 1, lang, text };
    if (skip) block.skip = skip[1]!.trim() || 'no reason given';
    else if (lang === 'yaml') block.yaml = yamlRole(mark, `${file}:${start + 1}`);
    else if (mark !== undefined) throw new Error(`${file}:${start + 1}: unknown doc-test comment "${mark}"`);
    blocks.push(block);
  }
  return blocks;
}
