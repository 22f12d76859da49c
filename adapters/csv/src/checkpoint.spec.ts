import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, utimes, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deleteCheckpoint, describeMismatch, identify, readCheckpoint, writeCheckpoint } from './checkpoint';

describe('checkpoint', () => {
  let dir: string;
  let file: string;
  let path: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mymonit-csv-checkpoint-'));
    file = join(dir, 'data.csv');
    path = `${file}.mymonit-checkpoint`;
    await writeFile(file, 'sensor,value,timestamp\ns,1,0\n');
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('When there is no checkpoint, then reading gives null', async () => {
    assert.equal(await readCheckpoint(path), null);
  });

  it('When a checkpoint is written, then it reads back with the file, its size, mtime and line, and no temporary file is left', async () => {
    const identity = await identify(file);
    await writeCheckpoint(path, identity, 2);
    await writeCheckpoint(path, identity, 1234);
    const checkpoint = await readCheckpoint(path);
    assert.ok(checkpoint);
    assert.deepEqual({ ...checkpoint, updatedAt: 'x' }, { file, size: identity.size, mtimeMs: identity.mtimeMs, line: 1234, updatedAt: 'x' });
    assert.equal(describeMismatch(checkpoint, await identify(file)), null);
    assert.deepEqual((await readdir(dir)).sort(), ['data.csv', 'data.csv.mymonit-checkpoint']);
  });

  it('When the file grows, is touched, or is another file, then the mismatch is described', async () => {
    const checkpoint = await readCheckpoint(path);
    assert.ok(checkpoint);
    const identity = await identify(file);
    await utimes(file, new Date(), new Date(identity.mtimeMs + 5_000));
    assert.match(describeMismatch(checkpoint, await identify(file)) ?? '', /file changed since \(modified/);
    await appendFile(file, 's,2,1\n');
    assert.match(describeMismatch(checkpoint, await identify(file)) ?? '', /file changed since \(size 29 → 35 bytes\)/);
    assert.match(describeMismatch({ ...checkpoint, file: '/elsewhere.csv' }, identity) ?? '', /another file/);
  });

  it('When the checkpoint is not one, then reading it says so', async () => {
    const other = join(dir, 'garbage');
    await writeFile(other, '{"line": "x"}');
    await assert.rejects(readCheckpoint(other), /is not a checkpoint/);
    await writeFile(other, 'nope');
    await assert.rejects(readCheckpoint(other), /not JSON/);
  });

  it('When the checkpoint is deleted, then it and a leftover temporary file are gone', async () => {
    await writeFile(`${path}.tmp`, '{');
    await deleteCheckpoint(path);
    await deleteCheckpoint(path);
    assert.deepEqual(await readdir(dir), ['data.csv', 'garbage'].filter((f) => f !== 'x').sort());
  });
});
