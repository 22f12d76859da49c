import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { AppConfig } from './config';
import { buildContainer } from './container';
import { Logging } from './logging/logging';
import { CLUSTER_METRICS_REQUEST, CLUSTER_METRICS_RESPONSE } from './metrics/metrics';

/**
 * The primary process of `APP_WORKERS` > 1: it serves nothing itself. It forks
 * the workers (each a whole app instance; they share the REST port), answers
 * their requests for the cluster's metrics, replaces a worker that dies after
 * it started, and on SIGTERM/SIGINT stops them all and exits 0 once every one
 * of them has drained and exited 0. A worker that dies before it listens
 * (a start-up failure, which another fork would repeat) stops the cluster
 * with exit status 1, as a single process would.
 */
export function runCluster(config: AppConfig): void {
  const logging = buildContainer(config).resolve(Logging);
  const log = logging.logger('cluster');
  const aggregator = new AggregatorRegistry();
  const listening = new Set<number>();
  let stopping = false;
  let failed = false;

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.once('listening', () => listening.add(worker.id));
    return worker;
  };

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping the workers', { event: 'cluster.stop', reason });
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    if (Object.keys(cluster.workers ?? {}).length === 0) void finish();
  };

  const finish = async () => {
    log.info('every worker has exited', { event: 'cluster.stopped', failed });
    await logging.close();
    process.exit(failed ? 1 : 0);
  };

  cluster.on('message', (worker, message: { type?: string; id?: string }) => {
    if (message?.type !== CLUSTER_METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: CLUSTER_METRICS_RESPONSE, id: message.id, text }),
      (error: Error) => worker.send({ type: CLUSTER_METRICS_RESPONSE, id: message.id, error: error.message }),
    );
  });

  cluster.on('exit', (worker, code, signal) => {
    const started = listening.delete(worker.id);
    if (stopping) {
      if (code !== 0) failed = true;
      if (Object.keys(cluster.workers ?? {}).length === 0) void finish();
      return;
    }
    if (!started) {
      log.error('a worker failed to start; stopping the cluster', { event: 'cluster.worker_failed', worker: worker.id, code, signal });
      failed = true;
      stop('a worker failed to start');
      return;
    }
    log.error('a worker exited; starting another', { event: 'cluster.worker_replaced', worker: worker.id, code, signal });
    fork();
  });

  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  log.info(`starting ${config.workers} workers`, { event: 'cluster.start', workers: config.workers });
  for (let i = 0; i < config.workers; i++) fork();
}
