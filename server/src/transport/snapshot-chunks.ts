// Re-cuts snapshot data into chunks of exactly chunkSizeBytes (the last may be shorter),
// whatever sizes the source yields. Holds at most one chunk plus one source piece.

export async function* chunksOf(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  chunkSizeBytes: number,
): AsyncGenerator<Uint8Array> {
  if (!Number.isSafeInteger(chunkSizeBytes) || chunkSizeBytes < 1) {
    throw new RangeError(`chunkSizeBytes must be a positive integer, got ${chunkSizeBytes}`);
  }
  if (source instanceof Uint8Array) {
    for (let offset = 0; offset < source.length; offset += chunkSizeBytes) {
      yield source.subarray(offset, Math.min(source.length, offset + chunkSizeBytes));
    }
    return;
  }
  let pending = new Uint8Array(chunkSizeBytes);
  let pendingBytes = 0;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.length) {
      const takeBytes = Math.min(chunkSizeBytes - pendingBytes, piece.length - offset);
      pending.set(piece.subarray(offset, offset + takeBytes), pendingBytes);
      pendingBytes += takeBytes;
      offset += takeBytes;
      if (pendingBytes === chunkSizeBytes) {
        yield pending;
        pending = new Uint8Array(chunkSizeBytes);
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield pending.subarray(0, pendingBytes);
}
