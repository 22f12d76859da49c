import { inject, injectable } from 'tsyringe';
import type { Response } from 'express';
import { z } from 'zod';
import { Metrics } from '../../metrics/metrics';
import { MeasureMessage } from '../../model/measure-message';
import { LiveMeasures } from '../../rabbit/live-measures';
import { ExperimentAccess } from '../../services/experiment-access';
import { MeasureService } from '../../services/measure.service';
import { presentMeasure } from '../presenters';
import { defineRoute, type Route } from '../route';
import { ExperimentIdParams } from '../schemas';

const HEARTBEAT_MS = 15_000;

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
  ) {}

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
          'Same body and validation as an AMQP message; every measure must name the experiment of the URL. Answers 202 once the broker has confirmed the message: it is then stored by the ingestion pipeline like any other. 503 when the broker is unreachable.',
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
          'Events: `ready` once the stream is live, then `measures` with a JSON array of measures as each batch is committed (by any app instance). A comment line every 15 s keeps proxies from closing the connection.',
        tag,
        access: 'user',
        params: ExperimentIdParams,
        query: StreamQuery,
        responses: {
          200: { description: 'An event stream', alternatives: { 'text/event-stream': z.string() } },
        },
        handle: async ({ user, params, query, req, res }) => {
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
          const { unsubscribe, bound } = this.live.subscribe(experiment.experimentId, (measures) => {
            const shown = sensors ? measures.filter((m) => sensors.has(m.sensor)) : measures;
            if (shown.length > 0) res.write(`event: measures\ndata: ${JSON.stringify(shown.map(present))}\n\n`);
          });
          const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
          this.streams.add(res);
          req.once('close', () => {
            clearInterval(heartbeat);
            unsubscribe();
            this.streams.delete(res);
          });
          await bound;
          res.write(`retry: 3000\nevent: ready\ndata: {}\n\n`);
        },
      }),
    ];
  }
}
