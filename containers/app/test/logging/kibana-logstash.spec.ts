import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const containers = join(__dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(containers, path), 'utf8');

interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: { id: string; name: string; type: string }[];
}

const objects = read('kibana/saved-objects.ndjson')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as SavedObject);
const template = JSON.parse(read('logstash/templates/mymonit-logs.json')) as {
  index_patterns: string[];
  template: { mappings: { properties: Record<string, { type: string }> } };
};
const pipeline = read('logstash/pipeline/mymonit.conf');
const mapped = template.template.mappings.properties;

/** The fields a saved object's aggregations and query use. */
function fieldsUsed(object: SavedObject): string[] {
  const search = JSON.parse(
    String((object.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON),
  ) as { query: { query: string } };
  const fromQuery = [...search.query.query.matchAll(/([A-Za-z@.]+):/g)].map((m) => m[1]);
  const visState = object.attributes.visState as string | undefined;
  const vis = visState ? (JSON.parse(visState) as { aggs: { params: { field?: string } }[] }) : { aggs: [] };
  const fromAggs = vis.aggs.map((a) => a.params.field).filter((f): f is string => Boolean(f));
  const columns = (object.attributes.columns as string[] | undefined) ?? [];
  return [...fromQuery, ...fromAggs, ...columns];
}

describe('Kibana saved objects and the Logstash pipeline', () => {
  it('When the saved objects are read, then ids are unique and every reference points to an object of the file', () => {
    const ids = new Set(objects.map((o) => `${o.type}:${o.id}`));
    assert.equal(ids.size, objects.length);
    for (const object of objects) {
      for (const reference of object.references) {
        assert.ok(ids.has(`${reference.type}:${reference.id}`), `${object.id} refers to missing ${reference.type}:${reference.id}`);
      }
    }
  });

  it('When the data view is compared with the pipeline, then it covers the daily indices the app lines go to, with their types', () => {
    const dataView = objects.find((o) => o.type === 'index-pattern')!;
    assert.equal(dataView.attributes.title, 'mymonit-logs-*');
    assert.equal(dataView.attributes.timeFieldName, '@timestamp');
    assert.match(pipeline, /index => "mymonit-logs-%\{\+YYYY\.MM\.dd\}"/);
    assert.deepEqual(template.index_patterns, ['mymonit-logs-*']);
    assert.equal(mapped.latencyMs.type, 'float', 'percentiles need a numeric latency');
    assert.equal(mapped['@timestamp'].type, 'date');
  });

  it('When the dashboard is read, then it shows admin actions, failed logins, rejected messages and request latency', () => {
    const dashboard = objects.find((o) => o.type === 'dashboard' && o.id === 'mymonit-audit')!;
    const panels = JSON.parse(String(dashboard.attributes.panelsJSON)) as { panelRefName: string }[];
    const shown = panels.map((p) => {
      const reference = dashboard.references.find((r) => r.name.endsWith(`:${p.panelRefName}`))!;
      return objects.find((o) => o.id === reference.id)!;
    });
    const queries = shown.map((o) => JSON.parse(String((o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON)).query.query);
    for (const query of ['event:audit.*', 'event:"auth.failure"', 'event:"ingest.rejected"', 'event:"http.request"']) {
      assert.ok(queries.includes(query), `no panel for ${query}`);
    }
    const latency = shown.find((o) => o.id === 'mymonit-request-latency')!;
    const aggs = JSON.parse(String(latency.attributes.visState)).aggs as { type: string; params: { percents?: number[] } }[];
    assert.deepEqual(aggs.find((a) => a.type === 'percentiles')!.params.percents, [50, 95, 99]);
  });

  it('When the fields the objects use are listed, then each is mapped by the template and written by the app', () => {
    const source = ['rest/rest-listener.ts', 'logging/audit-log.ts', 'rabbit/rabbit-listener.ts']
      .map((f) => readFileSync(join(__dirname, '..', '..', 'src', f), 'utf8'))
      .join('\n');
    for (const object of objects.filter((o) => o.type === 'visualization' || o.type === 'search')) {
      for (const field of fieldsUsed(object)) {
        assert.ok(mapped[field], `${object.id}: ${field} is not in the index template`);
        if (field !== 'event' && field !== '@timestamp') assert.match(source, new RegExp(`\\b${field}\\b`), `${object.id}: the app never logs ${field}`);
      }
    }
    for (const event of ["'http.request'", "'auth.failure'", "'ingest.rejected'", "'ingest.batch'"]) assert.ok(source.includes(event), event);
  });

  it('When the pipeline is read, then it takes json_lines on 5959 and beats on 5044, and writes daily indices', () => {
    assert.match(pipeline, /tcp \{[^}]*port => 5959[^}]*codec => json_lines/s);
    assert.match(pipeline, /beats \{[^}]*port => 5044/s);
    assert.match(pipeline, /index => "mymonit-nginx-%\{\+YYYY\.MM\.dd\}"/);
    assert.match(read('logstash/config/logstash.yml'), /pipeline\.ecs_compatibility: disabled/);
  });
});

/** A stand-in for Kibana's status and saved-objects import endpoints. */
async function fakeKibana(answer: (body: string) => { status: number; json: unknown }) {
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let statusCalls = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/status') {
        // Not ready at first, as Kibana while it starts.
        statusCalls++;
        res.statusCode = statusCalls < 2 ? 503 : 200;
        res.end(JSON.stringify({ status: { overall: { level: statusCalls < 2 ? 'unavailable' : 'available' } } }));
        return;
      }
      const { status, json } = answer(body);
      res.statusCode = status;
      res.end(JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => server.close() };
}

function runImport(env: Record<string, string>) {
  const child = spawn(process.execPath, [join(containers, 'kibana', 'import-saved-objects.mjs')], {
    env: { PATH: process.env.PATH, KIBANA_WAIT_SECONDS: '20', ...env },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise<{ code: number | null; output: string }>((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

describe('Importing the saved objects into Kibana', () => {
  it('When Kibana becomes available, then the script uploads the file with overwrite, the XSRF header and the credentials', async () => {
    const kibana = await fakeKibana(() => ({ status: 200, json: { success: true, successCount: objects.length } }));
    try {
      const result = await runImport({ KIBANA_URL: kibana.url, KIBANA_USERNAME: 'elastic', KIBANA_PASSWORD: 'changeme', KIBANA_SPACE: 'audit' });
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, new RegExp(`imported ${objects.length} saved objects`));
      const upload = kibana.seen.find((r) => r.method === 'POST')!;
      assert.equal(upload.url, '/s/audit/api/saved_objects/_import?overwrite=true');
      assert.ok(upload.headers['kbn-xsrf']);
      assert.equal(upload.headers.authorization, `Basic ${Buffer.from('elastic:changeme').toString('base64')}`);
      assert.match(String(upload.headers['content-type']), /^multipart\/form-data; boundary=/);
      assert.match(upload.body, /name="file"; filename="[^"]+\.ndjson"/);
      assert.ok(upload.body.includes(read('kibana/saved-objects.ndjson').trim()), 'the whole file is uploaded');
      assert.ok(kibana.seen.filter((r) => r.url === '/api/status').length >= 2, 'it waited for Kibana');
    } finally {
      kibana.close();
    }
  });

  it('When Kibana refuses an object, then the script names it and exits non-zero', async () => {
    const kibana = await fakeKibana(() => ({
      status: 200,
      json: { success: false, successCount: 6, errors: [{ id: 'mymonit-audit', type: 'dashboard', title: 'MyMONIT audit', error: { type: 'unknown' } }] },
    }));
    try {
      const result = await runImport({ KIBANA_URL: kibana.url });
      assert.equal(result.code, 1);
      assert.match(result.output, /not imported: dashboard mymonit-audit/);
    } finally {
      kibana.close();
    }
  });
});
