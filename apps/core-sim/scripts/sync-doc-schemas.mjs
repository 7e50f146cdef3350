#!/usr/bin/env node
// Rewrites the JSON Schema blocks of docs/narrow-api.md from apps/core-sim/src/contract/schemas.ts
// (built: run `npx tsc -b apps/core-sim` first). Each block follows a marker `<!-- schema:NAME -->`.
// apps/core-sim/test/contract.test.ts fails when the document and the code disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const { allSchemas, schemaId } = await import(resolve(root, 'apps/core-sim/dist/src/contract/schemas.js'));
const { formatSchema } = await import(resolve(root, 'apps/core-sim/dist/src/contract/format.js'));
const docFile = resolve(root, 'docs/narrow-api.md');
const byId = new Map(allSchemas.map((s) => [s.$id, s]));
let doc = readFileSync(docFile, 'utf8');
const seen = new Set();
doc = doc.replace(/<!-- schema:([a-z0-9.-]+) -->\n(```json\n[\s\S]*?```\n)?/g, (_all, name) => {
  const schema = byId.get(schemaId(name));
  if (!schema) throw new Error(`docs/narrow-api.md names an unknown schema ${name}`);
  seen.add(name);
  return `<!-- schema:${name} -->\n\`\`\`json\n${formatSchema(schema)}\n\`\`\`\n`;
});
const missing = allSchemas.filter((s) => !seen.has(s.$id.replace(/^.*\/v1\/|\.json$/g, '')));
if (missing.length) throw new Error(`no marker for ${missing.map((s) => s.$id).join(', ')}`);
writeFileSync(docFile, doc);
console.log(`docs/narrow-api.md: ${seen.size} schemas written`);
