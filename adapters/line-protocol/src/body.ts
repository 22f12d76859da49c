import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import { HttpError } from './http-error';

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'request too large', `the body is larger than ${limit} bytes (after decompression); send smaller batches`);
}

function encodingOf(request: IncomingMessage): 'identity' | 'gzip' {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return 'identity';
  if (encoding === 'gzip' || encoding === 'x-gzip') return 'gzip';
  throw new HttpError(415, 'invalid', `unsupported Content-Encoding "${encoding}": send identity or gzip`);
}

/**
 * Reads the request body, gunzipping it if it says so, and refuses more than
 * `limit` bytes both as sent and once decompressed (a small gzip body can
 * inflate to gigabytes).
 */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const encoding = encodingOf(request);

  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let received = 0;
    let settled = false;
    const gunzip = encoding === 'gzip' ? createGunzip() : null;

    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      gunzip?.destroy();
      // The rest of the body is read and dropped so that the answer can be delivered.
      request.removeAllListeners('data');
      request.resume();
      reject(error);
    };
    const collect = (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) fail(tooLarge(limit));
      else chunks.push(chunk);
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size));
    };

    request.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) fail(tooLarge(limit));
      else if (gunzip) gunzip.write(chunk);
      else collect(chunk);
    });
    request.on('end', () => (gunzip ? gunzip.end() : finish()));
    request.on('error', fail);
    request.on('close', () => {
      if (!request.complete) fail(new HttpError(400, 'invalid', 'the client closed the connection before the end of the body'));
    });
    if (gunzip) {
      gunzip.on('data', collect);
      gunzip.on('end', finish);
      gunzip.on('error', () => fail(new HttpError(400, 'invalid', 'the body is not valid gzip (Content-Encoding: gzip)')));
    }
  });
}
