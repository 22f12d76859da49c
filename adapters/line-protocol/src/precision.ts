/** Units a line protocol timestamp may be written in. */
export type Precision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h';

export type WriteApi = 'v1' | 'v2';

/** The `precision` query parameter each API accepts (InfluxDB's spellings), default ns for both. */
const SPELLINGS: Record<WriteApi, ReadonlyMap<string, Precision>> = {
  v2: new Map<string, Precision>([
    ['ns', 'ns'],
    ['us', 'us'],
    ['ms', 'ms'],
    ['s', 's'],
  ]),
  v1: new Map<string, Precision>([
    ['n', 'ns'],
    ['ns', 'ns'],
    ['u', 'us'],
    ['us', 'us'],
    ['ms', 'ms'],
    ['s', 's'],
    ['m', 'm'],
    ['h', 'h'],
  ]),
};

/** The precision a request asks for, or null if the API does not know that spelling. */
export function parsePrecision(api: WriteApi, raw: string | null): Precision | null {
  if (raw === null || raw === '') return 'ns';
  return SPELLINGS[api].get(raw) ?? null;
}

export function precisionSpellings(api: WriteApi): string[] {
  return [...SPELLINGS[api].keys()];
}

/** Units of the precision in one millisecond (divisor), or milliseconds in one unit (multiplier). */
const TO_MILLIS: Record<Precision, { divide: bigint } | { multiply: bigint }> = {
  ns: { divide: 1_000_000n },
  us: { divide: 1_000n },
  ms: { multiply: 1n },
  s: { multiply: 1_000n },
  m: { multiply: 60_000n },
  h: { multiply: 3_600_000n },
};

/** Division rounding towards negative infinity (BigInt division truncates towards zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const quotient = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? quotient - 1n : quotient;
}

/**
 * A timestamp of the given precision as epoch milliseconds, floored: MyMONIT
 * keeps millisecond resolution, so 1.9 ms and 1.1 ms both become 1 ms (and a
 * time before 1970 floors to the earlier millisecond, as it should). Done in
 * BigInt: a nanosecond timestamp (~1.8e18) is far beyond what a double holds
 * exactly.
 */
export function toEpochMillis(timestamp: bigint, precision: Precision): number {
  const conversion = TO_MILLIS[precision];
  return Number('divide' in conversion ? floorDiv(timestamp, conversion.divide) : timestamp * conversion.multiply);
}
