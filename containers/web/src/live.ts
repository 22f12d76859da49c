import { ApiError, experimentPath, send, type Measure } from './api';

/**
 * The live stream of stored measures (Server-Sent Events). The app
 * authenticates it with the Authorization header, which EventSource cannot
 * send: it is read with fetch and a stream reader instead.
 */

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface LiveHandlers {
  measures(measures: Measure[]): void;
  state(state: LiveState, error?: ApiError): void;
  /** The stream is live again after a break: measures may have been missed. */
  resumed(): void;
}

export function streamMeasures(experimentId: string, handlers: LiveHandlers, signal: AbortSignal): void {
  let retryMs = 3000;
  let connected = false;

  async function once(): Promise<void> {
    const response = await send(experimentPath(experimentId, '/measures/stream'), {
      accept: 'text/event-stream',
      signal,
      subject: 'experiment',
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = 'message';
    let data: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') {
          if (data.length > 0 || event !== 'message') dispatch(event, data.join('\n'));
          event = 'message';
          data = [];
        } else if (line.startsWith(':')) {
          continue;
        } else {
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (name === 'event') event = text;
          else if (name === 'data') data.push(text);
          else if (name === 'retry' && /^\d+$/.test(text)) retryMs = Number(text);
        }
      }
    }
  }

  function dispatch(event: string, data: string): void {
    if (event === 'ready') {
      handlers.state('live');
      if (connected) handlers.resumed();
      connected = true;
    } else if (event === 'measures') {
      try {
        handlers.measures(JSON.parse(data) as Measure[]);
      } catch {
        // A malformed event is skipped; the next one stands on its own.
      }
    }
  }

  void (async () => {
    handlers.state('connecting');
    while (!signal.aborted) {
      try {
        await once();
      } catch (error) {
        if (signal.aborted) break;
        // Refused (401, 403, 404): retrying would not help.
        if (error instanceof ApiError && [401, 403, 404].includes(error.status)) {
          handlers.state('stopped', error);
          return;
        }
      }
      if (signal.aborted) break;
      handlers.state('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    handlers.state('stopped');
  })();
}
