// Writes docs/options.md and docs/sample-config.yaml from the built config schema (npm run docs:options
// builds first). The rendering lives in src/config/options-doc.ts so the unit test renders the same text.
import { writeFileSync } from 'node:fs';
import { renderOptionsMarkdown, renderSampleConfig } from '../dist/config/options-doc.js';

const root = new URL('..', import.meta.url);
writeFileSync(new URL('docs/options.md', root), renderOptionsMarkdown());
writeFileSync(new URL('docs/sample-config.yaml', root), renderSampleConfig());
console.log('wrote docs/options.md and docs/sample-config.yaml');
