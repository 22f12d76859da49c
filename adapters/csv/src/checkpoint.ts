import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** How far a file was sent: every measure of lines up to `line` was confirmed by the broker. */
export interface Checkpoint {
  file: string;
  size: number;
  mtimeMs: number;
  line: number;
  updatedAt: string;
}

/** The identity of an input file: a checkpoint is only valid for the same size and mtime. */
export interface FileIdentity {
  file: string;
  size: number;
  mtimeMs: number;
}

export async function identify(path: string): Promise<FileIdentity> {
  const stats = await stat(path);
  if (!stats.isFile()) throw new Error(`${path} is not a regular file`);
  return { file: resolve(path), size: stats.size, mtimeMs: stats.mtimeMs };
}

/** The checkpoint at `path`, or null if there is none. Throws if it is not a checkpoint. */
export async function readCheckpoint(path: string): Promise<Checkpoint | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not a checkpoint (not JSON)`);
  }
  if (!isCheckpoint(value)) throw new Error(`${path} is not a checkpoint (missing file, size, mtimeMs or line)`);
  return value;
}

function isCheckpoint(value: unknown): value is Checkpoint {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.file === 'string' &&
    typeof v.size === 'number' &&
    typeof v.mtimeMs === 'number' &&
    typeof v.line === 'number' &&
    Number.isInteger(v.line) &&
    v.line >= 0
  );
}

/** Whether a checkpoint was written for this very file, unchanged since. */
export function describeMismatch(checkpoint: Checkpoint, file: FileIdentity): string | null {
  if (checkpoint.file !== file.file) return `it is for another file (${checkpoint.file})`;
  if (checkpoint.size !== file.size) return `the file changed since (size ${checkpoint.size} → ${file.size} bytes)`;
  if (checkpoint.mtimeMs !== file.mtimeMs) {
    return `the file changed since (modified ${new Date(checkpoint.mtimeMs).toISOString()} → ${new Date(file.mtimeMs).toISOString()})`;
  }
  return null;
}

/**
 * Writes the checkpoint atomically: a reader (or the next run, after a
 * crash) sees the previous checkpoint or this one, never half of one.
 */
export async function writeCheckpoint(path: string, file: FileIdentity, line: number): Promise<void> {
  const checkpoint: Checkpoint = { ...file, line, updatedAt: new Date().toISOString() };
  const temporary = temporaryOf(path);
  try {
    await writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Also removes a temporary file left by a run killed while writing. */
export async function deleteCheckpoint(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(temporaryOf(path), { force: true });
}

/** One name per checkpoint, so a run killed while writing leaves nothing the next run does not overwrite. */
function temporaryOf(path: string): string {
  return `${path}.tmp`;
}
