// OpenTelemetry for the SDK, through @opentelemetry/api only: without a registered SDK every
// call here is a no-op. Each client call is one span (flotilla.get, flotilla.put, ...) with
// the region, store, attempt count and consistency as attributes; its context travels to the
// store both as a W3C `traceparent` header (unary calls) and in kvpb Context.trace_context
// (every request, including those multiplexed on the BatchCommands stream, which has no
// per-request metadata), so the store's spans can join the trace.
import type { Attributes, Span } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { kvpb } from './wire.js';
import { FlotillaError } from './errors.js';

const tracer = trace.getTracer('@flotilla/sdk', '0.1.0');

/** What a call learned while running, recorded on its span at the end. */
export interface CallTrace {
  attempts: number;
  regionId: bigint | undefined;
  storeId: bigint | undefined;
  /** The propagated context of the call's span; undefined when not traced. */
  readonly traceContext: kvpb.TraceContext | undefined;
  readonly traceparent: string | undefined;
}

export async function traced<T>(
  operation: string,
  attributes: Attributes,
  run: (call: CallTrace) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    `flotilla.${operation}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system': 'flotilla', 'db.operation': operation, ...attributes },
    },
    async (span: Span) => {
      const call: CallTrace = { attempts: 0, regionId: undefined, storeId: undefined, ...propagated(span) };
      try {
        const result = await run(call);
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        if (err instanceof FlotillaError) span.setAttribute('flotilla.error_code', err.code);
        throw err;
      } finally {
        span.setAttribute('flotilla.attempts', call.attempts);
        if (call.regionId !== undefined) span.setAttribute('flotilla.region_id', call.regionId.toString());
        if (call.storeId !== undefined) span.setAttribute('flotilla.store_id', call.storeId.toString());
        span.end();
      }
    },
  );
}

function propagated(span: Span): Pick<CallTrace, 'traceContext' | 'traceparent'> {
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return { traceContext: undefined, traceparent: undefined };
  const flags = sc.traceFlags & 0xff;
  return {
    traceContext: {
      traceId: Buffer.from(sc.traceId, 'hex'),
      spanId: Buffer.from(sc.spanId, 'hex'),
      traceFlags: flags,
      traceState: sc.traceState?.serialize() ?? '',
    },
    traceparent: `00-${sc.traceId}-${sc.spanId}-${flags.toString(16).padStart(2, '0')}`,
  };
}
