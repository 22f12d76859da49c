import { inject, injectable } from 'tsyringe';
import { NotFoundError } from '../../errors';
import { z } from 'zod';
import { CONFIG, type AppConfig } from '../../config';
import { Metrics } from '../../metrics/metrics';
import { RabbitConnector } from '../../rabbit/rabbit-connector';
import { RabbitListener } from '../../rabbit/rabbit-listener';
import { StorageConnector } from '../../storage/storage-connector';
import { defineRoute, type Route } from '../route';
import { HealthSchema, ReadySchema, WebConfigSchema } from '../schemas';

@injectable()
export class SystemController {
  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(StorageConnector) private readonly storage: StorageConnector,
    @inject(RabbitConnector) private readonly rabbit: RabbitConnector,
    @inject(RabbitListener) private readonly listener: RabbitListener,
    @inject(Metrics) private readonly metrics: Metrics,
  ) {}

  routes(): Route[] {
    const tag = 'Operations';
    return [
      defineRoute({
        method: 'get',
        path: '/health',
        operationId: 'health',
        summary: 'Liveness: 200 while the process runs',
        tag,
        access: 'public',
        responses: { 200: { description: 'Alive', schema: HealthSchema } },
        handle: () => Promise.resolve({ status: 200, body: { status: 'ok' } }),
      }),
      defineRoute({
        method: 'get',
        path: '/config.json',
        operationId: 'webConfig',
        summary: "The web page's settings: the Firebase project it signs in with",
        description:
          'Public values (a Firebase web API key is not a secret), so that one build of the page serves every deployment.',
        tag,
        access: 'public',
        responses: { 200: { description: 'Settings', schema: WebConfigSchema } },
        handle: () => {
          const { projectId, webApiKey, authDomain, emulatorHost } = this.config.firebase;
          // The emulator takes any API key.
          const apiKey = webApiKey ?? (emulatorHost ? 'emulator-api-key' : null);
          return Promise.resolve({
            status: 200,
            body: {
              firebase: {
                apiKey,
                authDomain: authDomain ?? (projectId ? `${projectId}.firebaseapp.com` : null),
                projectId: projectId ?? null,
              },
              authEmulatorUrl: emulatorHost ? `http://${emulatorHost}` : null,
            },
          });
        },
      }),
      defineRoute({
        method: 'get',
        path: '/ready',
        operationId: 'ready',
        summary: 'Readiness: 200 only when MySQL is connected and the measures queue is consumed',
        description:
          '`rabbitmq` is `up` when the broker is connected and this instance consumes the measures queue: `down` while the broker is away, while the consumer is being set up again, or when the broker refuses the queue\'s declaration (the log says why).',
        tag,
        access: 'public',
        responses: {
          200: { description: 'Ready', schema: ReadySchema },
          503: { description: 'Not ready; `checks` says which dependency is down', schema: ReadySchema },
        },
        handle: async () => {
          const checks = {
            mysql: (await this.storage.ping()) ? 'up' : 'down',
            rabbitmq: this.rabbit.isConnected() && this.listener.isConsuming() ? 'up' : 'down',
          } as const;
          const ready = checks.mysql === 'up' && checks.rabbitmq === 'up';
          return {
            status: ready ? 200 : 503,
            body: { status: ready ? 'ready' : 'not_ready', checks },
            headers: { 'Cache-Control': 'no-store' },
          };
        },
      }),
      defineRoute({
        method: 'get',
        path: '/metrics',
        operationId: 'metrics',
        summary: 'Prometheus metrics (internal network only: the proxy does not expose it)',
        description:
          'Answers only requests that came straight to the app: one that passed through a proxy (it carries `X-Forwarded-For`) gets 404, whatever the spelling of the path, so the metrics stay internal even when a proxy rule misses a variant.',
        tag,
        access: 'public',
        responses: {
          200: {
            description: 'Prometheus text exposition format',
            alternatives: { 'text/plain': z.string() },
          },
        },
        errors: [404],
        handle: async ({ req, res }) => {
          if (req.get('x-forwarded-for') !== undefined) throw new NotFoundError(`No route for ${req.method} ${req.path}`);
          res.type(this.metrics.registry.contentType).send(await this.metrics.exposition());
        },
      }),
    ];
  }
}
