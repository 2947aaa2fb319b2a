// uint64 fields arrive as bigint; the store works with numbers below 2^53. Every
// conversion goes through here so an out-of-range id is an InvalidArgument naming the field.

export class WireNumberError extends RangeError {
  readonly code = 'INVALID_NUMBER';
  constructor(field: string, value: bigint) {
    super(`${field}: ${value} is larger than the largest supported id/index (2^53 - 1)`);
    this.name = 'WireNumberError';
  }
}

export function toSafeNumber(value: bigint, field: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireNumberError(field, value);
  return Number(value);
}
