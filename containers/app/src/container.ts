import 'reflect-metadata';
import {
  container as rootContainer,
  type DependencyContainer,
  type InjectionToken,
} from 'tsyringe';
import { CachedIdentityVerifier } from './auth/cached-identity-verifier';
import { FirebaseIdentityVerifier } from './auth/firebase-identity-verifier';
import { IDENTITY_VERIFIER } from './auth/identity-verifier';
import { CONFIG, type AppConfig } from './config';
import { AuditLog } from './logging/audit-log';
import { LOG_CONSOLE, Logging } from './logging/logging';
import { Metrics } from './metrics/metrics';
import { AccessChanges } from './rabbit/access-changes';
import { LiveMeasures } from './rabbit/live-measures';
import { MeasurePublisher } from './rabbit/measure-publisher';
import { RabbitConnector } from './rabbit/rabbit-connector';
import { RabbitListener } from './rabbit/rabbit-listener';
import { RabbitMessageProcessor } from './rabbit/rabbit-message-processor';
import { LiveController } from './rest/controllers/live.controller';
import { ExperimentController } from './rest/controllers/experiment.controller';
import { MeasureController } from './rest/controllers/measure.controller';
import { SystemController } from './rest/controllers/system.controller';
import { UserController } from './rest/controllers/user.controller';
import { RestListener } from './rest/rest-listener';
import { AccessCache } from './services/access-cache';
import { AuthenticationService } from './services/authentication.service';
import { ExperimentAccess } from './services/experiment-access';
import { ExperimentService } from './services/experiment.service';
import { MeasureService } from './services/measure.service';
import { UserService } from './services/user.service';
import { ExperimentRepository } from './storage/experiment.repository';
import { MeasureRepository } from './storage/measure.repository';
import { Migrator } from './storage/migrator';
import { StorageConnector } from './storage/storage-connector';
import { UserRepository } from './storage/user.repository';

/** Every component, one instance each per container: the composition root (the original's Container). */
const SINGLETONS: (new (...args: never[]) => unknown)[] = [
  Logging,
  AuditLog,
  Metrics,
  StorageConnector,
  Migrator,
  UserRepository,
  ExperimentRepository,
  MeasureRepository,
  RabbitConnector,
  MeasurePublisher,
  LiveMeasures,
  AccessCache,
  AccessChanges,
  RabbitMessageProcessor,
  RabbitListener,
  ExperimentAccess,
  UserService,
  ExperimentService,
  MeasureService,
  AuthenticationService,
  SystemController,
  UserController,
  ExperimentController,
  MeasureController,
  LiveController,
  RestListener,
];

export interface ContainerOverrides {
  /** Replace a component by a given instance (unit tests, tools). */
  values?: [InjectionToken, unknown][];
}

/** Wires the whole app from its configuration; components never construct one another. */
export function buildContainer(config: AppConfig, overrides: ContainerOverrides = {}): DependencyContainer {
  const container = rootContainer.createChildContainer();
  container.register(CONFIG, { useValue: config });
  container.register(LOG_CONSOLE, { useValue: 'process' });
  for (const component of SINGLETONS) container.registerSingleton(component);
  container.registerSingleton(FirebaseIdentityVerifier);
  container.registerSingleton(IDENTITY_VERIFIER, CachedIdentityVerifier);
  for (const [token, value] of overrides.values ?? []) container.register(token, { useValue: value });
  return container;
}
