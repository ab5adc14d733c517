/**
 * Reads the fenced command blocks out of the project's Markdown, so the doc-examples test runs what
 * the docs say and not a copy of it. A block is skipped only when the line just before its fence
 * is `<!-- doc-test: skip (reason) -->`; the reason is printed by the test.
 */
import { readFileSync } from 'node:fs';

/** One fenced block of a Markdown file. */
export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'bash' | 'nginx';
  /** What runs: the block itself, or for `console` blocks the `$ ` lines (with their continuations). */
  text: string;
  /** Set when the block is marked not runnable here. */
  skip?: string;
}

const RUN_LANGS = new Set(['bash', 'sh', 'shell', 'console', 'nginx']);
const SKIP_MARK = /^<!--\s*doc-test:\s*skip\s*\(?(.*?)\)?\s*-->$/;

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

/** Every ```bash / ```sh / ```console / ```nginx block of `file` (relative to `root`). */
export function extractBlocks(root: string, file: string): DocBlock[] {
  const lines = readFileSync(`${root}/${file}`, 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const lang = open[2]!;
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i += 1) body.push(lines[i]!.slice(indent));
    if (!RUN_LANGS.has(lang)) continue;
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before -= 1;
    const mark = before >= 0 ? SKIP_MARK.exec(lines[before]!.trim()) : null;
    const text = lang === 'console' ? consoleCommands(body) : body.join('\n');
    const block: DocBlock = { file, line: start + 1, lang: lang === 'nginx' ? 'nginx' : 'bash', text };
    if (mark) block.skip = mark[1]!.trim() || 'no reason given';
    blocks.push(block);
  }
  return blocks;
}
