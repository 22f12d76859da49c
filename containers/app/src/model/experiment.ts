export interface Experiment {
  /** Internal numeric key used by the measures table; never leaves the app. */
  ref: number;
  experimentId: string;
  name: string;
  description: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface ExperimentDetails extends Experiment {
  sensorCount: number;
  lastMeasureAt: number | null;
}

export interface ExperimentFields {
  name: string;
  description: string;
}
