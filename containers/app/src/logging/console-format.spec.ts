import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MESSAGE } from 'triple-beam';
import { consoleFormat, wantsColour } from './console-format';

const render = (colour: boolean, info: Record<string, unknown>) =>
  String((consoleFormat(colour).transform({ ...info } as never) as Record<symbol, unknown>)[MESSAGE]);

const line = {
  level: 'warn',
  message: 'authentication failed',
  timestamp: '2026-11-26T00:00:00.000Z',
  '@timestamp': '2026-11-26T00:00:00.000Z',
  service: 'mymonit',
  component: 'rest',
  reason: 'missing-token',
};

describe('Console format', () => {
  it('When colour is off, then the line is plain text: time, level, component, message, fields', () => {
    assert.equal(render(false, line), '2026-11-26T00:00:00.000Z WARN  [rest] authentication failed {"reason":"missing-token"}');
  });

  it('When colour is on, then the level is coloured with ANSI codes and the text is the same', () => {
    const coloured = render(true, line);
    // eslint-disable-next-line no-control-regex -- the ANSI escape is what is tested
    assert.match(coloured, /\u001b\[33mWARN /);
    // eslint-disable-next-line no-control-regex -- strips ANSI colour codes
    assert.equal(coloured.replace(/\u001b\[[0-9;]*m/g, ''), render(false, line));
  });

  it('When the output is not a TTY or NO_COLOR is set, then no colour', () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      assert.equal(wantsColour(tty), true);
      assert.equal(wantsColour({ isTTY: false } as NodeJS.WriteStream), false);
      process.env.NO_COLOR = '1';
      assert.equal(wantsColour(tty), false);
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  });
});
