import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { parseMeasureMessage, type Measure } from '@mymonit/publisher';
import { startServer, type RunningServer } from '../src/server';
import type { Logger } from '../src/log';

/** Against the real RabbitMQ (RABBIT_TEST_URL, default the local broker as guest). */
const BROKER_URL = process.env.RABBIT_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const TOKEN = 'test-token-0123456789';
const NOW = Date.parse('2026-11-26T12:00:00.000Z');

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: { code?: string; message?: string; status?: string } | null;
}

describe('line protocol endpoint against RabbitMQ', () => {
  const suffix = randomBytes(4).toString('hex');
  const exchange = `mymonit.lp-test.${suffix}`;
  const queue = `measures.lp-test.${suffix}`;
  const logged: string[] = [];
  const log: Logger = (level, message) => logged.push(`${level} ${message}`);
  let connection: ChannelModel;
  let channel: Channel;
  let server: RunningServer;
  let base: string;

  /** Every measure in the queue, each message validated with MyMONIT's schema as the app would. */
  async function drain(): Promise<Measure[]> {
    const measures: Measure[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (!message) return measures;
      const parsed = parseMeasureMessage(JSON.parse(message.content.toString('utf8')));
      assert.ok(parsed.ok, 'every message is valid for the app');
      measures.push(...parsed.measures);
    }
  }

  async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}, to = base): Promise<Answer> {
    const response = await fetch(`${to}${path}`, {
      method: 'POST',
      headers: { authorization: `Token ${TOKEN}`, 'content-type': 'text/plain; charset=utf-8', ...headers },
      body,
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: response.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Answer['json']) : null,
    };
  }

  before(async () => {
    connection = await amqplib.connect(BROKER_URL);
    channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'direct', { durable: true });
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    await channel.bindQueue(queue, exchange, 'measures');
    server = await startServer({
      amqpUrl: BROKER_URL,
      exchange,
      port: 0,
      host: '127.0.0.1',
      token: TOKEN,
      maxBodyBytes: 64 * 1024,
      now: () => NOW,
      log,
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server?.close();
    await channel?.deleteQueue(queue);
    await channel?.deleteExchange(exchange);
    await connection?.close();
  });
  beforeEach(async () => {
    await drain();
  });

  it('When a v2 write of valid lines is posted, then it is answered 204 after the measures are in the queue', async () => {
    const body = [
      '# Telegraf-like batch',
      'cpu,experiment=EXP-1,host=node-1,cpu=cpu0 usage_idle=97.5,usage_user=2i,busy=false,state="ok" 1795687200123999999',
      'magnet,host=node-1 temp=4.21 1795687200124000001',
      '',
    ].join('\n');
    const answer = await post('/api/v2/write?org=mymonit&bucket=EXP-B&precision=ns', body);
    assert.equal(answer.status, 204, answer.text);
    assert.equal(answer.headers.get('x-mymonit-skipped-fields'), '1');
    assert.equal(answer.headers.get('x-mymonit-measures'), '4');
    const measures = await drain();
    assert.deepEqual(
      measures.map((m) => [m.experimentId, m.sensor, m.value, m.timestamp, m.tags]),
      [
        ['EXP-1', 'cpu.usage_idle', 97.5, 1795687200123, { host: 'node-1', cpu: 'cpu0' }],
        ['EXP-1', 'cpu.usage_user', 2, 1795687200123, { host: 'node-1', cpu: 'cpu0' }],
        ['EXP-1', 'cpu.busy', 0, 1795687200123, { host: 'node-1', cpu: 'cpu0' }],
        ['EXP-B', 'magnet.temp', 4.21, 1795687200124, { host: 'node-1' }],
      ],
    );
  });

  it('When a v1 write names the experiment by db with precision s, then the timestamps are seconds; without one, the arrival time', async () => {
    const answer = await post('/write?db=EXP-V1&precision=s', 'room temp=21.5 1795687200\r\nroom humidity=40i\r\n');
    assert.equal(answer.status, 204, answer.text);
    assert.deepEqual(
      (await drain()).map((m) => [m.experimentId, m.sensor, m.timestamp]),
      [
        ['EXP-V1', 'room.temp', 1795687200000],
        ['EXP-V1', 'room.humidity', NOW],
      ],
    );
  });

  it('When the body is gzip-compressed (Telegraf\u2019s default), then it is read', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `gz,experiment=EXP-GZ v=${i}i ${1795687200000 + i}`).join('\n');
    const answer = await post('/api/v2/write?precision=ms', gzipSync(lines), { 'content-encoding': 'gzip' });
    assert.equal(answer.status, 204, answer.text);
    const measures = await drain();
    assert.equal(measures.length, 200);
    assert.deepEqual(measures[199], {
      experimentId: 'EXP-GZ',
      sensor: 'gz.v',
      value: 199,
      timestamp: 1795687200199,
      unit: null,
      tags: null,
    });
  });

  it('When a line is bad, then the answer is 400 naming it and nothing of the request is published', async () => {
    const body = ['m,experiment=E ok=1 1', 'm,experiment=E v=oops 1', 'm,experiment=E ok=2 2', 'm'].join('\n');
    const answer = await post('/api/v2/write?bucket=E&precision=ms', body);
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.json, {
      code: 'invalid',
      message: 'line 2: invalid value for field "v": oops; line 4: missing fields',
      error: 'line 2: invalid value for field "v": oops; line 4: missing fields',
    });
    assert.deepEqual(await drain(), []);
  });

  it('When a line gives a measure MyMONIT\u2019s schema refuses, then the answer is 400 naming the line and nothing is published', async () => {
    const body = 'ok,experiment=E v=1 1\nbad\\ name,experiment=E v=1 1\nnoexp v=1 1\nbig,experiment=E v=9007199254740993i 1';
    const answer = await post('/api/v2/write?precision=ms', body);
    assert.equal(answer.status, 400);
    assert.equal(answer.json?.code, 'invalid');
    assert.match(answer.json?.message ?? '', /^line 2: sensor "bad name\.v": must be .*; line 3: no experiment: .*; line 4: field "v": 9007199254740993 is beyond/);
    assert.deepEqual(await drain(), []);
  });

  it('When more than five lines are bad, then the first five are named and the rest counted', async () => {
    const body = Array.from({ length: 8 }, (_, i) => `m${i}`).join('\n');
    const answer = await post('/api/v2/write?bucket=E', body);
    assert.equal(answer.status, 400);
    assert.match(answer.json?.message ?? '', /^line 1: missing fields; .*line 5: missing fields \(and 3 more bad lines\)$/);
  });

  it('When the body is not UTF-8 or not gzip as it claims, then it is a 400', async () => {
    const notUtf8 = Buffer.concat([Buffer.from('m,experiment=E v=1 1\nm,experiment=E,t='), Buffer.from([0xff, 0xfe]), Buffer.from(' v=1 1')]);
    const answer = await post('/api/v2/write', notUtf8);
    assert.equal(answer.status, 400);
    assert.equal(answer.json?.message, 'line 2: invalid UTF-8');
    const notGzip = await post('/api/v2/write', 'm v=1', { 'content-encoding': 'gzip' });
    assert.equal(notGzip.status, 400);
    assert.match(notGzip.json?.message ?? '', /not valid gzip/);
    assert.equal((await post('/api/v2/write', 'm v=1', { 'content-encoding': 'br' })).status, 415);
    assert.deepEqual(await drain(), []);
  });

  it('When the precision is not one the API knows, then it is a 400', async () => {
    const answer = await post('/api/v2/write?bucket=E&precision=h', 'm v=1 1');
    assert.equal(answer.status, 400);
    assert.equal(answer.json?.message, 'invalid precision "h": one of ns, us, ms, s');
    assert.equal((await post('/write?db=E&precision=h', 'm v=1 1')).status, 204);
    assert.equal((await drain())[0].timestamp, 3_600_000);
  });

  it('When the body is larger than the limit, as sent or once decompressed, then it is a 413 and nothing is published', async () => {
    const big = `m,experiment=E v=1 1\n`.repeat(4000);
    assert.ok(big.length > 64 * 1024);
    const plain = await post('/api/v2/write?precision=ms', big);
    assert.equal(plain.status, 413);
    assert.equal(plain.json?.code, 'request too large');
    const bomb = gzipSync(big);
    assert.ok(bomb.length < 64 * 1024);
    const inflated = await post('/api/v2/write?precision=ms', bomb, { 'content-encoding': 'gzip' });
    assert.equal(inflated.status, 413);
    assert.deepEqual(await drain(), []);
  });

  describe('authentication', () => {
    it('When the token is missing or wrong, then it is a 401 and nothing is published', async () => {
      for (const authorization of [undefined, 'Token wrong', `Token ${TOKEN}x`, 'Basic Zm9vOmJhcg==', TOKEN]) {
        const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
        const response = await fetch(`${base}/api/v2/write?bucket=E`, { method: 'POST', headers, body: 'm v=1' });
        assert.equal(response.status, 401, String(authorization));
        assert.equal(((await response.json()) as { code: string }).code, 'unauthorized');
      }
      assert.deepEqual(await drain(), []);
    });

    it('When the token comes as Token, Bearer or the password of Basic, then the write is accepted', async () => {
      const basic = `Basic ${Buffer.from(`telegraf:${TOKEN}`).toString('base64')}`;
      for (const authorization of [`Token ${TOKEN}`, `Bearer ${TOKEN}`, basic]) {
        assert.equal((await post('/write?db=E', 'm v=1 1', { authorization })).status, 204, authorization);
      }
      assert.equal((await drain()).length, 3);
    });

    it('When /ping and /health are asked without a token, then they answer (InfluxDB clients probe /ping)', async () => {
      const ping = await fetch(`${base}/ping`);
      assert.equal(ping.status, 204);
      assert.equal((await fetch(`${base}/ping`, { method: 'HEAD' })).status, 204);
      const health = await fetch(`${base}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
    });
  });

  it('When a route does not exist or the method is wrong, then it is a 404 or a 405', async () => {
    assert.equal((await fetch(`${base}/api/v2/query`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${base}/constructor`, { method: 'POST' })).status, 404);
    const get = await fetch(`${base}/api/v2/write`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('When no queue takes the measures, then the write is a 503 unavailable', async () => {
    const unbound = `${exchange}.unbound`;
    const other = await startServer({ amqpUrl: BROKER_URL, exchange: unbound, port: 0, host: '127.0.0.1', log });
    try {
      const answer = await post('/api/v2/write?bucket=E', 'm v=1', {}, `http://127.0.0.1:${other.port}`);
      assert.equal(answer.status, 503);
      assert.equal(answer.json?.code, 'unavailable');
      assert.match(answer.json?.message ?? '', /publishing to RabbitMQ failed: no queue takes messages/);
    } finally {
      await other.close();
      await channel.deleteExchange(unbound);
    }
    assert.ok(logged.some((line) => line.startsWith('warn no token set')), 'a server without a token warns at start');
  });

  it('When the server is closed during a request, then that request still completes and is published', async () => {
    const other = await startServer({ amqpUrl: BROKER_URL, exchange, port: 0, host: '127.0.0.1', log });
    const answered = new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        { host: '127.0.0.1', port: other.port, method: 'POST', path: '/write?db=E-CLOSE&precision=ms' },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.write('late v=1 1\n');
      setTimeout(() => request.end('late v=2 2\n'), 200);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = other.close();
    assert.equal(await answered, 204);
    await closed;
    assert.deepEqual(
      (await drain()).map((m) => m.value),
      [1, 2],
    );
    await assert.rejects(fetch(`http://127.0.0.1:${other.port}/ping`));
  });
});
