export { parseCommandLine, UsageError, USAGE, DEFAULT_URL, type Options, type Format, type ParsedCommandLine } from './options';
export { mapRecord, headerProblems, requiredColumns, formatRowErrors, type Mapping, type MappedRow, type RowRecord } from './mapping';
export { readCsv, readJsonLines, readInput, type InputItem, type CsvOptions } from './rows';
export {
  identify,
  readCheckpoint,
  writeCheckpoint,
  deleteCheckpoint,
  describeMismatch,
  type Checkpoint,
  type FileIdentity,
} from './checkpoint';
