// Public entry of @flotilla/proto: the generated wire types, codecs and gRPC service
// definitions, one namespace per protobuf package. Ids, terms and indexes (uint64) are
// bigint; bytes are Buffer; a oneof is a union discriminated on `$case`.
export * as metapb from './gen/flotilla/metapb/metapb.js';
export * as errorpb from './gen/flotilla/errorpb/errorpb.js';
export * as kvpb from './gen/flotilla/kvpb/kvpb.js';
export * as raftpb from './gen/flotilla/raftpb/raftpb.js';
export * as pdpb from './gen/flotilla/pdpb/pdpb.js';
