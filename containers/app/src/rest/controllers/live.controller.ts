import { inject, injectable } from 'tsyringe';
import type { Response } from 'express';
import { z } from 'zod';
import { Metrics } from '../../metrics/metrics';
import { MeasureMessage } from '../../model/measure-message';
import { LiveMeasures } from '../../rabbit/live-measures';
import { NotFoundError } from '../../errors';
import { AccessCache } from '../../services/access-cache';
import { AuthenticationService } from '../../services/authentication.service';
import { ExperimentAccess } from '../../services/experiment-access';
import { MeasureService } from '../../services/measure.service';
import { presentMeasure } from '../presenters';
import { defineRoute, type Route } from '../route';
import { ExperimentIdParams } from '../schemas';

const HEARTBEAT_MS = 15_000;
/** How often an open stream's access is checked again even without an access-change notice. */
const RECHECK_MS = 60_000;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const StreamQuery = z.object({
  sensor: z
    .array(z.string())
    .max(100)
    .optional()
    .meta({ description: 'Only these sensors (repeat the parameter for several)' }),
});

const Accepted = z
  .object({ accepted: z.number().int().meta({ description: 'Measures in the message' }) })
  .meta({ id: 'Accepted' });

/** Measures in motion: HTTP ingestion and the live stream (Server-Sent Events). */
@injectable()
export class LiveController {
  private readonly streams = new Set<Response>();

  constructor(
    @inject(MeasureService) private readonly measures: MeasureService,
    @inject(ExperimentAccess) private readonly access: ExperimentAccess,
    @inject(LiveMeasures) private readonly live: LiveMeasures,
    @inject(Metrics) private readonly metrics: Metrics,
    @inject(AuthenticationService) private readonly authentication: AuthenticationService,
    @inject(AccessCache) private readonly accessCache: AccessCache,
  ) {}

  /** Whether the holder of `uid` may still see the experiment; false once erased, dissociated or demoted. */
  private async stillAllowed(uid: string, experimentId: string): Promise<boolean> {
    const user = await this.authentication.userOf(uid);
    if (!user) return false;
    try {
      await this.access.visibleExperiment(user, experimentId);
      return true;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /** Ends every open stream (shutdown): clients reconnect to another instance. */
  closeStreams(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  routes(): Route[] {
    const tag = 'Measures';
    return [
      defineRoute({
        method: 'post',
        path: '/experiments/{experiment_id}/measures',
        operationId: 'publishMeasures',
        summary: 'Publish measures over HTTP (for instruments that cannot speak AMQP)',
        description:
          'Same body and validation as an AMQP message; every measure must name the experiment of the URL. Answers 202 once the broker has confirmed the message: it is then stored by the ingestion pipeline like any other. 503 when the broker is unreachable, or blocks publishing under a memory or disk alarm.',
        tag,
        access: 'user',
        params: ExperimentIdParams,
        body: MeasureMessage,
        errors: [503],
        responses: { 202: { description: 'Accepted by the broker', schema: Accepted } },
        handle: async ({ user, params, body, res }) => {
          const accepted = await this.measures.submit(user, params.experiment_id, body, res.locals.requestId as string);
          this.metrics.httpPublished.inc();
          return { status: 202, body: { accepted } };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/experiments/{experiment_id}/measures/stream',
        operationId: 'streamMeasures',
        summary: 'New measures as they are stored (Server-Sent Events)',
        description:
          'Events: `ready` once the stream is live, then `measures` with a JSON array of measures as each batch is committed (by any app instance). A comment line every 15 s keeps proxies from closing the connection. The stream lasts no longer than the token it was opened with, nor than its access: it ends with an `end` event, `{"reason":"token-expired"}` (reconnect with a fresh token) or `{"reason":"access-revoked"}` (the user was erased, dissociated or demoted).',
        tag,
        access: 'user',
        params: ExperimentIdParams,
        query: StreamQuery,
        responses: {
          200: { description: 'An event stream', alternatives: { 'text/event-stream': z.string() } },
        },
        handle: async ({ user, params, query, identity, res }) => {
          const experiment = await this.access.visibleExperiment(user, params.experiment_id);
          const sensors = query.sensor ? new Set(query.sensor) : null;
          const present = presentMeasure(experiment.experimentId);
          res.status(200);
          res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
          res.setHeader('Cache-Control', 'no-cache, no-transform');
          res.setHeader('X-Accel-Buffering', 'no');
          // The connection belongs to the stream: when it ends (client gone, shutdown), so does the connection.
          res.setHeader('Connection', 'close');
          res.flushHeaders();
          // A stream ends (revoked, expired, shutdown) a moment before its 'close' clears the
          // listeners below: what they send meanwhile is dropped, as a write after the end
          // would be an 'error' event on the response, and the process's end.
          const send = (text: string) => {
            if (!res.writableEnded) res.write(text);
          };
          res.on('error', () => undefined); // the connection failed: 'close' follows and cleans up
          const { unsubscribe, bound } = this.live.subscribe(experiment.experimentId, (measures) => {
            const shown = sensors ? measures.filter((m) => sensors.has(m.sensor)) : measures;
            if (shown.length > 0) send(`event: measures\ndata: ${JSON.stringify(shown.map(present))}\n\n`);
          });
          const heartbeat = setInterval(() => send(': heartbeat\n\n'), HEARTBEAT_MS);
          const end = (reason: 'access-revoked' | 'token-expired') => {
            if (res.writableEnded) return;
            res.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
          };
          // The access the stream was opened with is checked again whenever it may have changed
          // (an access-change notice, or every minute for changes no notice announces), and the
          // stream lasts no longer than the token it was opened with.
          const recheck = () => {
            this.stillAllowed(identity.uid, experiment.experimentId).then(
              (allowed) => allowed || end('access-revoked'),
              () => undefined, // MySQL away: the stream stays; the next check decides
            );
          };
          const stopWatching = this.accessCache.onChange(recheck);
          const periodic = setInterval(recheck, RECHECK_MS);
          const expiry = setTimeout(() => end('token-expired'), Math.min(Math.max(0, identity.expiresAt * 1000 - Date.now()), MAX_TIMER_MS));
          this.streams.add(res);
          // The response's 'close': the stream ended here, or the client went away.
          res.once('close', () => {
            clearInterval(heartbeat);
            clearInterval(periodic);
            clearTimeout(expiry);
            stopWatching();
            unsubscribe();
            this.streams.delete(res);
          });
          await bound;
          send(`retry: 3000\nevent: ready\ndata: {}\n\n`);
        },
      }),
    ];
  }
}
