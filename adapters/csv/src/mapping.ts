import { MeasureInput, fieldErrors, type FieldError } from '@mymonit/publisher';

/** How the columns (CSV) or keys (JSON Lines) of a row become measures. */
export interface Mapping {
  experiment: { fixed: string } | { column: string };
  sensorColumn: string;
  valueColumn: string;
  timestampColumn: string;
  /** `required`: the column was named on the command line, so the header must have it. */
  unit: { fixed: string } | { column: string; required: boolean };
  tagColumns: string[];
  /** Wide mode: each of these columns holds the value of the sensor of the same name. */
  sensorColumns: string[] | null;
}

/** One row as read: column (or key) → cell (a string for CSV, any JSON value for JSON Lines). */
export type RowRecord = Record<string, unknown>;

export type MappedRow = { ok: true; measures: MeasureInput[] } | { ok: false; errors: FieldError[] };

const DECIMAL_CHARACTERS = /^[-+.\deE]+$/;

/** Number() alone would also take "0x1F", "Infinity" and " ": only plain decimals are numbers here. */
function isDecimal(text: string): boolean {
  return DECIMAL_CHARACTERS.test(text) && Number.isFinite(Number(text));
}

function isEmpty(cell: unknown): boolean {
  return cell === undefined || cell === null || (typeof cell === 'string' && cell.trim() === '');
}

/** Decimal text → number; anything else is left as it is for the schema to refuse with its own message. */
function toValue(cell: unknown): unknown {
  if (isEmpty(cell)) return undefined;
  if (typeof cell !== 'string') return cell;
  const text = cell.trim();
  return isDecimal(text) ? Number(text) : cell;
}

/**
 * Epoch milliseconds may come as text: digits become a number (and so does a
 * decimal, for the schema to say it must be an integer); other text stays an
 * ISO string.
 */
function toTimestamp(cell: unknown): unknown {
  if (isEmpty(cell)) return undefined;
  if (typeof cell !== 'string') return cell;
  const text = cell.trim();
  return isDecimal(text) ? Number(text) : text;
}

function toText(cell: unknown): unknown {
  if (isEmpty(cell)) return undefined;
  if (typeof cell === 'number' || typeof cell === 'boolean') return String(cell);
  return typeof cell === 'string' ? cell.trim() : cell;
}

/** The columns this mapping reads that a CSV header must have. */
export function requiredColumns(mapping: Mapping): string[] {
  const columns: string[] = [];
  if ('column' in mapping.experiment) columns.push(mapping.experiment.column);
  if (mapping.sensorColumns) columns.push(...mapping.sensorColumns);
  else columns.push(mapping.sensorColumn, mapping.valueColumn);
  columns.push(mapping.timestampColumn);
  if ('column' in mapping.unit && mapping.unit.required) columns.push(mapping.unit.column);
  columns.push(...mapping.tagColumns);
  return [...new Set(columns)];
}

/** Problems of a CSV header for this mapping (empty if none). */
export function headerProblems(header: string[], mapping: Mapping): string[] {
  const present = new Set(header);
  const missing = requiredColumns(mapping).filter((column) => !present.has(column));
  return missing.length === 0
    ? []
    : [`column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} not in the header (${header.join(', ')})`];
}

function describe(cell: unknown): string {
  if (cell === undefined || cell === null) return 'missing';
  if (typeof cell === 'string' && cell.trim() === '') return 'empty';
  const text = JSON.stringify(cell) ?? typeof cell;
  return `got ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** Validates one candidate measure; error fields are prefixed, messages name the cell they came from. */
function validate(candidate: Record<string, unknown>, cells: Record<string, unknown>, prefix: string): MappedRow {
  const result = MeasureInput.safeParse(candidate);
  if (result.success) return { ok: true, measures: [result.data] };
  // One line per field: the timestamp union can say two things of the same cell.
  const byField = new Map<string, string[]>();
  for (const error of fieldErrors(result.error)) {
    const messages = byField.get(error.field) ?? [];
    if (!messages.includes(error.message)) messages.push(error.message);
    byField.set(error.field, messages);
  }
  const errors = [...byField].map(([field, all]) => {
    // Text that is no date at all is also "out of range": the first message says it better.
    let messages = all.includes('Invalid ISO datetime') ? ['Invalid ISO datetime'] : all;
    // zod reports a fractional number against both branches of the timestamp union as a bare "Invalid input".
    if (field === 'timestamp' && typeof candidate.timestamp === 'number' && messages[0] === 'Invalid input') {
      messages = ['epoch milliseconds must be an integer'];
    }
    const source = field.startsWith('tags.') ? field : field.split(/[.[]/)[0];
    const hint = source in cells ? ` (${describe(cells[source])})` : '';
    return { field: prefix ? `${prefix}.${field}` : field, message: `${messages.join('; ')}${hint}` };
  });
  return { ok: false, errors };
}

/**
 * A row → its measures, each validated with MyMONIT's own schema. Long mode
 * gives one measure; wide mode one per non-empty sensor column (error fields
 * then start with `[column]`).
 */
export function mapRecord(record: RowRecord, mapping: Mapping): MappedRow {
  const common: Record<string, unknown> = {};
  // The cell each field came from, to show it next to the schema's message.
  const cells: Record<string, unknown> = {};

  if ('fixed' in mapping.experiment) common.experiment_id = mapping.experiment.fixed;
  else {
    cells.experiment_id = record[mapping.experiment.column];
    common.experiment_id = toText(cells.experiment_id);
  }
  cells.timestamp = record[mapping.timestampColumn];
  common.timestamp = toTimestamp(cells.timestamp);
  if ('fixed' in mapping.unit) common.unit = mapping.unit.fixed;
  else if (!isEmpty(record[mapping.unit.column])) {
    cells.unit = record[mapping.unit.column];
    common.unit = toText(cells.unit);
  }
  const tags: Record<string, unknown> = {};
  for (const column of mapping.tagColumns) {
    if (isEmpty(record[column])) continue;
    cells[`tags.${column}`] = record[column];
    tags[column] = toText(record[column]);
  }
  if (Object.keys(tags).length > 0) common.tags = tags;

  if (!mapping.sensorColumns) {
    cells.sensor = record[mapping.sensorColumn];
    cells.value = record[mapping.valueColumn];
    const candidate = { ...common, sensor: toText(cells.sensor), value: toValue(cells.value) };
    return validate(dropUndefined(candidate), cells, '');
  }

  const measures: MeasureInput[] = [];
  const errors: FieldError[] = [];
  for (const column of mapping.sensorColumns) {
    if (isEmpty(record[column])) continue;
    const candidate = { ...common, sensor: column, value: toValue(record[column]) };
    const result = validate(dropUndefined(candidate), { ...cells, value: record[column] }, `[${column}]`);
    if (result.ok) measures.push(...result.measures);
    else errors.push(...result.errors);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, measures };
}

function dropUndefined(candidate: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(candidate).filter(([, v]) => v !== undefined));
}

/** `line N: field: message`, N counting from 1 with the CSV header as line 1. */
export function formatRowErrors(line: number, errors: FieldError[]): string[] {
  return errors.map((e) => `line ${line}: ${e.field}: ${e.message}`);
}
