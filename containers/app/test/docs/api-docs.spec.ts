import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { API_HTML, openApiDocument, renderApiHtml } from '../../scripts/api-docs';
import { startTestApp, type TestApp } from '../support/test-app';

describe('docs/api.html', () => {
  let app: TestApp;
  const html = readFileSync(API_HTML, 'utf8');
  before(async () => {
    app = await startTestApp();
  });
  after(async () => app?.stop());

  it('When compared with what the app serves at /openapi.json, then it renders exactly that document', async () => {
    const served = await (await fetch(`${app.baseUrl}/openapi.json`)).json();
    const embedded = /spec: (\{.*\}),\n {2}dom_id/s.exec(html);
    assert.ok(embedded, 'the document is inlined');
    assert.deepEqual(JSON.parse(embedded[1]), served, 'docs/api.html is out of date: run `npm run docs`');
  });

  it('When regenerated, then the file is byte for byte what `npm run docs` writes, and needs no network', () => {
    assert.equal(html, renderApiHtml(openApiDocument()), 'docs/api.html is out of date: run `npm run docs`');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, 'self-contained');
  });
});
