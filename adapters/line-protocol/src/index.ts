export { parseLineProtocol, type Field, type FieldValue, type LineError, type ParseResult, type Point } from './line-protocol';
export { DEFAULT_MAPPING, mapPoints, type MappingOptions, type MappingResult, type WriteContext } from './mapping';
export { parsePrecision, toEpochMillis, type Precision, type WriteApi } from './precision';
export { startServer, type RunningServer, type ServerOptions } from './server';
export type { Logger, LogLevel } from './log';
