// The wire protocol modules the SDK uses, in one place. In the repository they come from
// the @flotilla/proto workspace (TypeScript sources, through tsx); the package build
// (scripts/build.mjs) replaces this module's output with a re-export of the protocol code
// compiled into dist/proto/, so the installed package carries its own copy and depends on
// no Flotilla workspace.
export { errorpb, kvpb, metapb, pdpb } from '@flotilla/proto';
