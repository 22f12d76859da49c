import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CrlfToLf, readCsv, readJsonLines, type InputItem } from './rows';

async function all(items: AsyncIterable<InputItem>): Promise<InputItem[]> {
  const list: InputItem[] = [];
  for await (const item of items) list.push(item);
  return list;
}

const text = (s: string) => Readable.from([Buffer.from(s)]);

describe('readCsv', () => {
  it('When a CSV has a BOM, blank lines, mixed line endings and quoted line breaks, then rows carry the line they start on', async () => {
    const csv = '\ufeffsensor,value,note\r\na,1,x\r\n\r\nb, 2 ,"two\r\nlines"\r\nc,3,z\n"d","4","three\n\nlines"\ne,5,\n';
    assert.deepEqual(await all(readCsv(text(csv), { delimiter: ',' })), [
      { kind: 'header', columns: ['sensor', 'value', 'note'] },
      { kind: 'row', line: 2, record: { sensor: 'a', value: '1', note: 'x' } },
      { kind: 'row', line: 4, record: { sensor: 'b', value: '2', note: 'two\nlines' } },
      { kind: 'row', line: 6, record: { sensor: 'c', value: '3', note: 'z' } },
      { kind: 'row', line: 7, record: { sensor: 'd', value: '4', note: 'three\n\nlines' } },
      { kind: 'row', line: 10, record: { sensor: 'e', value: '5', note: '' } },
    ]);
  });

  it('When a CRLF is split across chunks, then it still becomes one LF', async () => {
    const chunks = ['a,b\r', '\n1,2\r', '\n', '3,"4\r', '\n5"\r'];
    const out: string[] = [];
    for await (const chunk of Readable.from(chunks).pipe(new CrlfToLf())) out.push(String(chunk));
    assert.equal(out.join(''), 'a,b\n1,2\n3,"4\n5"\r');
  });

  it('When a record has the wrong number of fields, then it is unreadable at its line and the next rows still come', async () => {
    const items = await all(readCsv(text('a;b\n1;2\n3\n4;5\n'), { delimiter: ';' }));
    assert.deepEqual(
      items.map((i) => (i.kind === 'header' ? 'header' : `${i.kind}@${i.line}`)),
      ['header', 'row@2', 'unreadable@3', 'row@4'],
    );
    const unreadable = items[2];
    assert.ok(unreadable.kind === 'unreadable');
    assert.match(unreadable.message, /Invalid Record Length/);
  });

  it('When the file has only a header, then the header comes and no row', async () => {
    assert.deepEqual(await all(readCsv(text('a,b\n'), { delimiter: ',' })), [{ kind: 'header', columns: ['a', 'b'] }]);
  });
});

describe('readJsonLines', () => {
  it('When lines are objects, blank, bad JSON or not objects, then each comes at its line', async () => {
    const jsonl = '{"sensor":"a","value":1}\n\n{"sensor":\n[1,2]\r\n{"sensor":"b","value":"2"}';
    const items = await all(readJsonLines(text(jsonl)));
    assert.deepEqual(items.slice(0, 1), [{ kind: 'row', line: 1, record: { sensor: 'a', value: 1 } }]);
    assert.equal(items[1].kind, 'unreadable');
    assert.equal(items[1].kind === 'unreadable' && items[1].line, 3);
    assert.match(items[1].kind === 'unreadable' ? items[1].message : '', /^not valid JSON/);
    assert.deepEqual(items.slice(2), [
      { kind: 'unreadable', line: 4, message: 'not a JSON object' },
      { kind: 'row', line: 5, record: { sensor: 'b', value: '2' } },
    ]);
  });
});
