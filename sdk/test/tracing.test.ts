// Tracing: with an OpenTelemetry tracer registered, every call is one span carrying region,
// store, attempts and consistency, and the span's context reaches the store in
// Context.trace_context (stream and unary) and as `traceparent` metadata (unary).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, context, trace, TraceFlags } from '@opentelemetry/api';
import type {
  Attributes,
  Context,
  Span,
  SpanContext,
  SpanOptions,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import { createClient } from '../src/index.js';
import { FakeCluster } from './support/fake-cluster.js';

interface RecordedSpan {
  readonly name: string;
  readonly attributes: Attributes;
  readonly spanContext: SpanContext;
  ended: boolean;
}

/** The smallest tracer that records spans (the SDK only needs @opentelemetry/api). */
class RecordingTracer implements Tracer {
  readonly spans: RecordedSpan[] = [];

  startSpan(name: string, options: SpanOptions = {}): Span {
    const record: RecordedSpan = {
      name,
      attributes: { ...options.attributes },
      spanContext: {
        traceId: randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceFlags: TraceFlags.SAMPLED,
      },
      ended: false,
    };
    this.spans.push(record);
    const span: Span = {
      spanContext: () => record.spanContext,
      setAttribute: (k, v) => {
        if (v !== undefined) record.attributes[k] = v;
        return span;
      },
      setAttributes: (a) => {
        Object.assign(record.attributes, a);
        return span;
      },
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus: () => span,
      updateName: () => span,
      end: () => {
        record.ended = true;
      },
      isRecording: () => true,
      recordException: () => {},
    };
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args.at(-1) as F;
    const options = (args.length >= 2 ? args[0] : {}) as SpanOptions;
    const span = this.startSpan(name, options);
    return context.with(trace.setSpan(context.active() ?? (ROOT_CONTEXT as Context), span), () =>
      fn(span),
    ) as ReturnType<F>;
  }
}

describe('tracing', () => {
  const tracer = new RecordingTracer();
  let cluster: FakeCluster;

  before(async () => {
    const provider: TracerProvider = { getTracer: () => tracer };
    trace.setGlobalTracerProvider(provider);
    cluster = await FakeCluster.start(3);
  });

  after(() => {
    trace.disable();
    cluster?.stop();
  });

  for (const coalesce of [true, false]) {
    it(`one span per call with region, store, attempts and consistency; context sent to the store (coalesce ${coalesce})`, async () => {
      const client = await createClient({ pdEndpoints: [cluster.pd.address], coalesce });
      try {
        (cluster.state.region(1n) as { leaderStoreId: bigint }).leaderStoreId = 2n;
        const store = cluster.store(2n);
        store.recorded = [];
        tracer.spans.length = 0;
        await client.put('traced', 'v');
        await client.get('traced', { consistency: 'lease' });
        const [put, get] = tracer.spans;
        assert.equal(put?.name, 'flotilla.put');
        assert.equal(get?.name, 'flotilla.get');
        assert.ok(put?.ended && get?.ended);
        assert.equal(put.attributes['flotilla.region_id'], '1');
        assert.equal(put.attributes['flotilla.store_id'], '2');
        assert.equal(put.attributes['flotilla.attempts'], 2, 'store 1 redirected the put to store 2');
        assert.equal(get.attributes['flotilla.consistency'], 'lease');
        const sent = store.recorded.find((b) => b.$case === 'put');
        assert.ok(sent?.$case === 'put');
        assert.equal(sent.put.context?.traceContext?.traceId.toString('hex'), put.spanContext.traceId);
        assert.equal(sent.put.context?.traceContext?.spanId.toString('hex'), put.spanContext.spanId);
        if (!coalesce)
          assert.equal(store.lastTraceparent, `00-${get.spanContext.traceId}-${get.spanContext.spanId}-01`);
      } finally {
        cluster.store(2n).recorded = undefined;
        (cluster.state.region(1n) as { leaderStoreId: bigint }).leaderStoreId = 1n;
        await client.close();
      }
    });
  }
});
