export interface Migration {
  version: number;
  name: string;
  /** Run in order; each must be safe to run again (DDL commits implicitly in MySQL). */
  statements: string[];
}

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'users, experiments, associations, sensors, measures',
    statements: [
      `CREATE TABLE IF NOT EXISTS users (
        user_id VARCHAR(64) NOT NULL,
        username VARCHAR(128) NULL,
        name VARCHAR(255) NULL,
        email VARCHAR(320) NULL,
        role ENUM('ADMIN', 'SCIENTIST') NOT NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        erased_at DATETIME(3) NULL,
        PRIMARY KEY (user_id),
        UNIQUE KEY uq_users_username (username)
      ) ${TABLE_OPTIONS}`,
      `CREATE TABLE IF NOT EXISTS experiments (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        experiment_id VARCHAR(64) NOT NULL,
        name VARCHAR(255) NOT NULL,
        description TEXT NOT NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_experiments_experiment_id (experiment_id)
      ) ${TABLE_OPTIONS}`,
      `CREATE TABLE IF NOT EXISTS experiment_users (
        experiment_ref INT UNSIGNED NOT NULL,
        user_id VARCHAR(64) NOT NULL,
        created_at DATETIME(3) NOT NULL,
        PRIMARY KEY (experiment_ref, user_id),
        KEY ix_experiment_users_user (user_id),
        CONSTRAINT fk_experiment_users_experiment FOREIGN KEY (experiment_ref)
          REFERENCES experiments (id) ON DELETE CASCADE,
        CONSTRAINT fk_experiment_users_user FOREIGN KEY (user_id)
          REFERENCES users (user_id) ON DELETE CASCADE
      ) ${TABLE_OPTIONS}`,
      `CREATE TABLE IF NOT EXISTS sensors (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        experiment_ref INT UNSIGNED NOT NULL,
        sensor VARCHAR(128) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_sensors_experiment_sensor (experiment_ref, sensor),
        CONSTRAINT fk_sensors_experiment FOREIGN KEY (experiment_ref)
          REFERENCES experiments (id) ON DELETE CASCADE
      ) ${TABLE_OPTIONS}`,
      // Clustered by experiment then time: a time-range read of an experiment is
      // one sequential scan, and new (recent) measures land at the end of the
      // experiment's range. The key is the natural key, so an upsert replaces.
      `CREATE TABLE IF NOT EXISTS measures (
        experiment_ref INT UNSIGNED NOT NULL,
        ts BIGINT NOT NULL,
        sensor_ref INT UNSIGNED NOT NULL,
        value DOUBLE NOT NULL,
        unit VARCHAR(16) NULL,
        tags JSON NULL,
        PRIMARY KEY (experiment_ref, ts, sensor_ref),
        KEY ix_measures_sensor_ts (sensor_ref, ts)
      ) ${TABLE_OPTIONS}`,
    ],
  },
  {
    version: 2,
    name: 'hourly rollups of measures',
    statements: [
      // count/sum/min/max/first/last of one sensor over one hour (hour = FLOOR(ts / 3600000)).
      `CREATE TABLE IF NOT EXISTS measure_hours (
        experiment_ref INT UNSIGNED NOT NULL,
        sensor_ref INT UNSIGNED NOT NULL,
        hour BIGINT NOT NULL,
        n INT UNSIGNED NOT NULL,
        total DOUBLE NOT NULL,
        mn DOUBLE NOT NULL,
        mx DOUBLE NOT NULL,
        first_ts BIGINT NOT NULL,
        \`first_value\` DOUBLE NOT NULL,
        last_ts BIGINT NOT NULL,
        \`last_value\` DOUBLE NOT NULL,
        PRIMARY KEY (experiment_ref, hour, sensor_ref)
      ) ${TABLE_OPTIONS}`,
      // Hours whose measures changed since their rollup was computed.
      `CREATE TABLE IF NOT EXISTS measure_hours_stale (
        experiment_ref INT UNSIGNED NOT NULL,
        hour BIGINT NOT NULL,
        sensor_ref INT UNSIGNED NOT NULL,
        PRIMARY KEY (experiment_ref, hour, sensor_ref)
      ) ${TABLE_OPTIONS}`,
      // Measures stored before this version: every hour of theirs is stale until first summarised.
      // Floored with DIV: MySQL's `/` rounds to 4 decimal places (see floorDiv in the repository).
      `INSERT IGNORE INTO measure_hours_stale (experiment_ref, hour, sensor_ref)
       SELECT DISTINCT experiment_ref, (ts DIV 3600000 - (ts % 3600000 < 0)), sensor_ref FROM measures`,
    ],
  },
  {
    version: 3,
    name: 'daily rollups of measures',
    statements: [
      // As measure_hours, per UTC day (day = FLOOR(ts / 86400000)), computed from the hours.
      `CREATE TABLE IF NOT EXISTS measure_days (
        experiment_ref INT UNSIGNED NOT NULL,
        sensor_ref INT UNSIGNED NOT NULL,
        day BIGINT NOT NULL,
        n INT UNSIGNED NOT NULL,
        total DOUBLE NOT NULL,
        mn DOUBLE NOT NULL,
        mx DOUBLE NOT NULL,
        first_ts BIGINT NOT NULL,
        \`first_value\` DOUBLE NOT NULL,
        last_ts BIGINT NOT NULL,
        \`last_value\` DOUBLE NOT NULL,
        PRIMARY KEY (experiment_ref, day, sensor_ref)
      ) ${TABLE_OPTIONS}`,
      // Days one of whose hourly rollups changed since the day was computed.
      `CREATE TABLE IF NOT EXISTS measure_days_stale (
        experiment_ref INT UNSIGNED NOT NULL,
        day BIGINT NOT NULL,
        sensor_ref INT UNSIGNED NOT NULL,
        PRIMARY KEY (experiment_ref, day, sensor_ref)
      ) ${TABLE_OPTIONS}`,
      // Hours already rolled up: their days are stale until first summarised. Hours still
      // stale mark their days when they are refreshed.
      `INSERT IGNORE INTO measure_days_stale (experiment_ref, day, sensor_ref)
       SELECT DISTINCT experiment_ref, (hour DIV 24 - (hour % 24 < 0)), sensor_ref FROM measure_hours`,
    ],
  },
];
