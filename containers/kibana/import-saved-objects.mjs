#!/usr/bin/env node
// Imports MyMONIT's Kibana saved objects (the "MyMONIT logs" data view, the
// visualizations and the "MyMONIT audit" dashboard) through Kibana's
// saved-objects API. Idempotent: existing objects with the same ids are overwritten.
//
//   node import-saved-objects.mjs [file.ndjson]
//
// Environment:
//   KIBANA_URL            default http://localhost:5601
//   KIBANA_USERNAME       with KIBANA_PASSWORD: basic authentication (e.g. elastic)
//   KIBANA_PASSWORD
//   KIBANA_SPACE          a Kibana space id (default: the default space)
//   KIBANA_WAIT_SECONDS   how long to wait for Kibana to be available (default 300)
// Needs Node.js 18 or later (fetch, FormData); no dependencies.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'saved-objects.ndjson');
const base = (process.env.KIBANA_URL ?? 'http://localhost:5601').replace(/\/+$/, '');
const space = process.env.KIBANA_SPACE ? `/s/${encodeURIComponent(process.env.KIBANA_SPACE)}` : '';
const waitSeconds = Number(process.env.KIBANA_WAIT_SECONDS ?? 300);
const headers = { 'kbn-xsrf': 'mymonit-import' };
if (process.env.KIBANA_USERNAME) {
  const credentials = `${process.env.KIBANA_USERNAME}:${process.env.KIBANA_PASSWORD ?? ''}`;
  headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
}

async function waitUntilAvailable() {
  const deadline = Date.now() + waitSeconds * 1000;
  let last = 'no answer';
  for (;;) {
    try {
      const response = await fetch(`${base}/api/status`, { headers });
      if (response.ok) {
        const status = await response.json();
        const level = status?.status?.overall?.level ?? status?.status?.overall?.state;
        if (level === 'available' || level === 'green') return;
        last = `status ${level}`;
      } else {
        last = `HTTP ${response.status}`;
      }
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    if (Date.now() > deadline) throw new Error(`Kibana at ${base} is not available after ${waitSeconds} s (${last})`);
    console.log(`waiting for Kibana at ${base} (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

async function importObjects() {
  const ndjson = await readFile(file);
  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), 'mymonit-saved-objects.ndjson');
  const response = await fetch(`${base}${space}/api/saved_objects/_import?overwrite=true`, {
    method: 'POST',
    headers,
    body: form,
  });
  const text = await response.text();
  let result;
  try {
    result = JSON.parse(text);
  } catch {
    throw new Error(`Kibana answered ${response.status}: ${text.slice(0, 500)}`);
  }
  if (!response.ok) throw new Error(`Kibana answered ${response.status}: ${result.message ?? text.slice(0, 500)}`);
  for (const error of result.errors ?? []) {
    console.error(`not imported: ${error.type} ${error.id} (${error.title ?? ''}): ${JSON.stringify(error.error)}`);
  }
  if (!result.success) throw new Error(`${(result.errors ?? []).length} saved objects were not imported`);
  console.log(`imported ${result.successCount} saved objects into ${base}${space}: open ${base}${space}/app/dashboards#/view/mymonit-audit`);
}

try {
  await waitUntilAvailable();
  await importObjects();
} catch (error) {
  console.error(`import failed: ${error.message}`);
  process.exit(1);
}
