import type mysql from 'mysql2/promise';

/** What the raw pipelines of bench:ingest and bench:consumer share: their sensors and their statement. */

/** A multi-row upsert of measures on their natural key, as the raw pipelines write them (no validation, no transaction). */
export const RAW_UPSERT =
  'INSERT INTO measures (experiment_ref, ts, sensor_ref, value, unit, tags) VALUES ? ON DUPLICATE KEY UPDATE value = VALUES(value)';

/** The sensors s0…s49 of experiment `ref`, created if missing: name → key. */
export async function benchSensors(db: mysql.Connection, ref: number): Promise<Map<string, number>> {
  await db.query('INSERT IGNORE INTO sensors (experiment_ref, sensor) VALUES ?', [Array.from({ length: 50 }, (_, i) => [ref, `s${i}`])]);
  const [rows] = (await db.query('SELECT id, sensor FROM sensors WHERE experiment_ref = ?', [ref])) as unknown as [{ id: number; sensor: string }[]];
  return new Map(rows.map((r) => [r.sensor, r.id]));
}
