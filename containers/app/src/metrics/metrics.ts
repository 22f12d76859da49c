import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { injectable } from 'tsyringe';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A worker asks the primary for every worker's metrics; the primary answers with the exposition text. */
export const CLUSTER_METRICS_REQUEST = 'mymonit:cluster-metrics-request';
export const CLUSTER_METRICS_RESPONSE = 'mymonit:cluster-metrics-response';
const CLUSTER_METRICS_TIMEOUT_MS = 5_000;

interface ClusterMetricsResponse {
  type: typeof CLUSTER_METRICS_RESPONSE;
  id: string;
  text?: string;
  error?: string;
}

/** Connections of one MySQL pool: checked out, idle, and requests waiting for one. */
export interface PoolState {
  pool: string;
  inUse: number;
  idle: number;
  waiting: number;
}

/** One of the app's two RabbitMQ connections, as the broker sees it now. */
export interface BrokerConnectionState {
  connection: string;
  connected: boolean;
  /** Blocked by the broker under a memory or disk alarm. */
  blocked: boolean;
}

/** What became of an AMQP message: `mymonit_ingest_messages_total{outcome}`. */
const INGEST_OUTCOMES = ['stored', 'rejected', 'requeued'] as const;

/** Prometheus metrics of one app instance (its own registry, so tests can run several). */
@injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'mymonit_http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'mymonit_http_request_duration_seconds',
    help: 'HTTP request latency by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'mymonit_auth_failures_total',
    help: 'Rejected authentications by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly ingestMessages = new Counter({
    name: 'mymonit_ingest_messages_total',
    help: 'AMQP messages settled by outcome: stored, rejected (dead-lettered) or requeued',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly ingestStoreRetries = new Counter({
    name: 'mymonit_ingest_store_retries_total',
    help: 'Batches of measures MySQL did not take, retried with back-off (nothing acknowledged), by driver error code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly ingestMeasures = new Counter({
    name: 'mymonit_ingest_measures_total',
    help: 'Measures committed to MySQL by ingestion',
    registers: [this.registry],
  });

  readonly logLinesDropped = new Counter({
    name: 'mymonit_log_lines_dropped_total',
    help: 'Log lines dropped (oldest first) because the Logstash buffer was full',
    registers: [this.registry],
  });

  readonly consoleLinesDropped = new Counter({
    name: 'mymonit_console_lines_dropped_total',
    help: 'Console log lines dropped because the reader of stdout/stderr had fallen 16 MB behind',
    registers: [this.registry],
  });

  readonly logLinesShipped = new Counter({
    name: 'mymonit_log_lines_shipped_total',
    help: 'Log lines written to the Logstash connection',
    registers: [this.registry],
  });

  readonly accessCacheEnabled = new Gauge({
    name: 'mymonit_access_cache_enabled',
    help: '1 while user lookups and access checks are cached (access-change notices are being received)',
    registers: [this.registry],
  });

  readonly logstashConnected = new Gauge({
    name: 'mymonit_logstash_connected',
    help: '1 while the Logstash connection is up',
    registers: [this.registry],
  });

  /** What `observe` was given for the gauges read when scraped. */
  private readonly readers = new Map<Gauge, () => number>();

  /** Set by the logging service when it ships to Logstash. */
  readonly logLinesBuffered = this.scrapedGauge('mymonit_log_lines_buffered', 'Log lines waiting for Logstash');

  /** Read when scraped: set by the storage connector. */
  poolStatesSource: () => PoolState[] = () => [];

  readonly dbPoolConnections: Gauge<'pool' | 'state'> = new Gauge({
    name: 'mymonit_db_pool_connections',
    help: 'MySQL connections by pool (queries, ingestion) and state: in_use, idle, or waiting (requests queued for one)',
    labelNames: ['pool', 'state'] as const,
    registers: [this.registry],
    collect: (): void => {
      for (const { pool, inUse, idle, waiting } of this.poolStatesSource()) {
        this.dbPoolConnections.set({ pool, state: 'in_use' }, inUse);
        this.dbPoolConnections.set({ pool, state: 'idle' }, idle);
        this.dbPoolConnections.set({ pool, state: 'waiting' }, waiting);
      }
    },
  });

  /** Read when scraped: set by the RabbitMQ connector. */
  brokerStatesSource: () => BrokerConnectionState[] = () => [];

  readonly rabbitConnected = this.brokerGauge(
    'mymonit_rabbit_connected',
    '1 while the RabbitMQ connection is up, by connection: publish (publishing, dead-lettering) and consume (ingestion, live streams)',
    (state) => state.connected,
  );

  readonly rabbitBlocked = this.brokerGauge(
    'mymonit_rabbit_blocked',
    '1 while RabbitMQ blocks the connection under a memory or disk alarm (nothing it publishes is taken)',
    (state) => state.blocked,
  );

  /** Set by the ingestion listener. */
  readonly ingestUnackedBytes = this.scrapedGauge(
    'mymonit_ingest_unacked_bytes',
    'Bytes of the messages received and not yet acknowledged (kept near INGEST_MAX_UNACKED_MB)',
  );

  /** Set by the ingestion listener. */
  readonly ingestUnackedMeasures = this.scrapedGauge(
    'mymonit_ingest_unacked_measures',
    'Measures of the messages received and not yet acknowledged (at most 80,000, eight batches)',
  );

  readonly ingestPrefetch = new Gauge({
    name: 'mymonit_ingest_prefetch',
    help: 'Prefetch of the ingestion consumer (0 while paused over its budget or not consuming)',
    registers: [this.registry],
  });

  readonly ingestBatchSeconds = new Histogram({
    name: 'mymonit_ingest_batch_duration_seconds',
    help: 'Time to store one batch: its transaction, and the retries while MySQL is away or refuses',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.registry],
  });

  readonly httpPublished = new Counter({
    name: 'mymonit_http_ingest_messages_total',
    help: 'Messages accepted over HTTP and confirmed by the broker',
    registers: [this.registry],
  });

  constructor() {
    if (cluster.isWorker) {
      // One series per worker (a gauge such as "connected" means nothing summed); the
      // primary gathers every worker's registry through prom-client's cluster support.
      this.registry.setDefaultLabels({ service: 'mymonit', worker: String(cluster.worker!.id) });
      AggregatorRegistry.setRegistries([this.registry]);
      new AggregatorRegistry(); // constructing one makes this worker answer the primary's requests
    } else {
      this.registry.setDefaultLabels({ service: 'mymonit' });
    }
    collectDefaultMetrics({ register: this.registry, prefix: 'mymonit_' });
    // Every outcome shown from the start, at 0: a series born at 1 hides its first
    // increment from increase() and rate(), so a first dead-lettered message would raise no alert.
    for (const outcome of INGEST_OUTCOMES) this.ingestMessages.inc({ outcome }, 0);
  }

  /** Has `read` give `gauge` its value each time /metrics is scraped (the gauge shows 0 until then). */
  observe(gauge: Gauge, read: () => number): void {
    this.readers.set(gauge, read);
  }

  /** A 0/1 gauge per broker connection, read from `brokerStatesSource` when scraped. */
  private brokerGauge(name: string, help: string, read: (state: BrokerConnectionState) => boolean): Gauge<'connection'> {
    const gauge: Gauge<'connection'> = new Gauge({
      name,
      help,
      labelNames: ['connection'] as const,
      registers: [this.registry],
      collect: (): void => {
        for (const state of this.brokerStatesSource()) gauge.set({ connection: state.connection }, Number(read(state)));
      },
    });
    return gauge;
  }

  /** A gauge whose value is read when scraped, from what its owner gave `observe`: nothing to update on a hot path. */
  private scrapedGauge(name: string, help: string): Gauge {
    const gauge: Gauge = new Gauge({
      name,
      help,
      registers: [this.registry],
      collect: (): void => gauge.set(this.readers.get(gauge)?.() ?? 0),
    });
    return gauge;
  }

  /**
   * The exposition served at /metrics: this process's registry or, in a
   * worker of a cluster, every worker's (whichever worker the scrape reached).
   */
  async exposition(): Promise<string> {
    if (!cluster.isWorker || !process.send) return this.registry.metrics();
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error('the primary did not send the cluster metrics in time')), CLUSTER_METRICS_TIMEOUT_MS);
      const onMessage = (message: ClusterMetricsResponse) => {
        if (message?.type !== CLUSTER_METRICS_RESPONSE || message.id !== id) return;
        finish(message.error === undefined ? null : new Error(message.error), message.text);
      };
      const finish = (error: Error | null, text = '') => {
        clearTimeout(timer);
        process.off('message', onMessage);
        if (error) reject(error);
        else resolve(text);
      };
      process.on('message', onMessage);
      process.send!({ type: CLUSTER_METRICS_REQUEST, id });
    });
  }
}
