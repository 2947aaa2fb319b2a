// Every message of the wire protocol survives encode -> decode (and toJSON -> fromJSON)
// unchanged with all fields set. The coverage guards compare the sample table against the
// schema itself (buf's descriptors of proto/flotilla) and against the generated exports, so
// a new message, oneof case or enum value without a sample in samples.ts fails CI.
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import type { DescField, DescMessage, FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

import { modules, roundTripSamples } from './samples.js';

const protoDir = fileURLToPath(new URL('..', import.meta.url));
const bufBin = fileURLToPath(new URL('../../node_modules/.bin/buf', import.meta.url));
const descriptorBytesMax = 16 * 1024 * 1024;

/** The schema as buf compiles it from proto/flotilla, independent of the generated code. */
function loadSchema(): FileRegistry {
  const bytes = execFileSync(bufBin, ['build', '--output', '-'], {
    cwd: protoDir,
    maxBuffer: descriptorBytesMax,
  });
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
}

function schemaMessages(registry: FileRegistry): DescMessage[] {
  const found: DescMessage[] = [];
  for (const file of registry.files) {
    if (file.proto.package.startsWith('flotilla.')) found.push(...file.messages);
  }
  return found;
}

/** "flotilla.kvpb.GetRequest" -> "kvpb.GetRequest", the name samples use. */
const shortName = (typeName: string): string => typeName.replace(/^flotilla\./, '');

/** ts-proto's property name for a proto field or oneof name. */
const camel = (protoName: string): string =>
  protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Paths of fields holding their proto3 default, which would hide a field dropped on the wire. */
function defaultValuedPaths(value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [path];
  if (typeof value === 'bigint') return value === 0n ? [path] : [];
  if (typeof value === 'number') return value === 0 ? [path] : [];
  if (typeof value === 'string') return value === '' ? [path] : [];
  if (typeof value === 'boolean') return value ? [] : [path];
  if (Buffer.isBuffer(value)) return value.length === 0 ? [path] : [];
  if (Array.isArray(value)) {
    if (value.length === 0) return [path];
    return value.flatMap((item, i) => defaultValuedPaths(item, `${path}[${i}]`));
  }
  if (typeof value === 'object') {
    return Object.entries(value).flatMap(([key, field]) => defaultValuedPaths(field, `${path}.${key}`));
  }
  throw new Error(`unexpected ${typeof value} at ${path}`);
}

/** Records which oneof cases and enum values a sample exercises, walking it along its schema. */
function collectCoverage(desc: DescMessage, value: unknown, into: Set<string>): void {
  assert.ok(typeof value === 'object' && value !== null, `${desc.typeName}: expected an object`);
  const record = value as Record<string, unknown>;
  for (const field of desc.fields) {
    if (field.oneof === undefined) collectField(field, record[camel(field.name)], into);
  }
  for (const oneof of desc.oneofs) {
    const chosen = record[camel(oneof.name)] as ({ $case: string } & Record<string, unknown>) | undefined;
    if (chosen === undefined) continue;
    const field = oneof.fields.find((f) => camel(f.name) === chosen.$case);
    assert.ok(field, `${desc.typeName}.${oneof.name}: unknown case ${chosen.$case}`);
    into.add(`oneof ${desc.typeName}.${oneof.name} = ${field.name}`);
    collectField(field, chosen[chosen.$case], into);
  }
}

function collectField(field: DescField, value: unknown, into: Set<string>): void {
  if (value === undefined) return;
  switch (field.fieldKind) {
    case 'enum':
      into.add(`enum ${field.enum.typeName} = ${String(value)}`);
      return;
    case 'message':
      collectCoverage(field.message, value, into);
      return;
    case 'list':
      for (const item of value as unknown[]) {
        if (field.listKind === 'message') collectCoverage(field.message, item, into);
        if (field.listKind === 'enum') into.add(`enum ${field.enum.typeName} = ${String(item)}`);
      }
      return;
    case 'scalar':
    case 'map':
      return;
  }
}

/** Every oneof case and enum value the schema declares, in the format collectCoverage uses. */
function requiredCoverage(registry: FileRegistry): string[] {
  const required: string[] = [];
  for (const message of schemaMessages(registry)) {
    for (const oneof of message.oneofs) {
      for (const field of oneof.fields)
        required.push(`oneof ${message.typeName}.${oneof.name} = ${field.name}`);
    }
  }
  for (const file of registry.files) {
    if (!file.proto.package.startsWith('flotilla.')) continue;
    for (const enumDesc of file.enums) {
      for (const value of enumDesc.values) required.push(`enum ${enumDesc.typeName} = ${value.number}`);
    }
  }
  return required;
}

function isCodec(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['encode', 'decode', 'fromPartial'].every((method) => typeof candidate[method] === 'function');
}

describe('wire round trip', () => {
  for (const sample of roundTripSamples) {
    it(`${sample.label} survives binary and JSON encoding`, () => {
      if (sample.requireNonDefault) {
        assert.deepEqual(defaultValuedPaths(sample.value, '$'), [], 'a full sample must set every field');
      }
      const wire = sample.codec.encode(sample.value).finish();
      assert.deepStrictEqual(sample.codec.decode(wire), sample.value);

      const json: unknown = JSON.parse(JSON.stringify(sample.codec.toJSON(sample.value)));
      assert.deepStrictEqual(sample.codec.fromJSON(json), sample.value);
    });
  }

  it('keeps uint64 values at 2^64 - 1 exact as bigint', () => {
    const codec = modules.pdpb.AllocIdResponse;
    const decoded = codec.decode(codec.encode({ header: undefined, id: (1n << 64n) - 1n }).finish());
    assert.equal(decoded.id, 18446744073709551615n);
  });
});

describe('round-trip table coverage', () => {
  const registry = loadSchema();
  const sampledNames = new Set(roundTripSamples.map((s) => s.name));

  it('has a generated codec and a sample for every message in the schema', () => {
    const messages = schemaMessages(registry).map((m) => shortName(m.typeName));
    assert.ok(
      messages.length > 100,
      `expected the schema to hold the whole protocol, found ${messages.length}`,
    );
    const byName = modules as unknown as Record<string, Record<string, unknown>>;
    const withoutCodec = messages.filter((name) => {
      const [pkg = '', message = ''] = name.split('.');
      return !isCodec(byName[pkg]?.[message]);
    });
    assert.deepEqual(withoutCodec, [], 'messages missing from proto/src/gen: run npm run proto');
    const withoutSample = messages.filter((name) => !sampledNames.has(name));
    assert.deepEqual(withoutSample, [], 'messages without a round-trip sample in proto/test/samples.ts');
  });

  it('has a sample for every exported codec', () => {
    const exported = Object.entries(modules).flatMap(([pkg, mod]) =>
      Object.entries(mod)
        .filter(([, value]) => isCodec(value))
        .map(([name]) => `${pkg}.${name}`),
    );
    assert.deepEqual(
      exported.filter((name) => !sampledNames.has(name)),
      [],
      'exported codecs without a sample',
    );
  });

  it('exercises every oneof case and every enum value of the schema', () => {
    const covered = new Set<string>();
    for (const sample of roundTripSamples) {
      const desc = registry.getMessage(`flotilla.${sample.name}`);
      assert.ok(desc, `sample ${sample.label} names no message of the schema`);
      collectCoverage(desc, sample.value, covered);
    }
    const required = requiredCoverage(registry);
    assert.ok(required.length > 50, `expected many oneof cases and enum values, found ${required.length}`);
    assert.deepEqual(
      required.filter((item) => !covered.has(item)),
      [],
      'oneof cases or enum values no sample exercises',
    );
  });
});
