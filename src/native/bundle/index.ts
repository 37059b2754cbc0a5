// The CLEFT model bundle, as the rest of the app uses it: the folder layout and errors (layout.ts),
// the manifest schema and identities (manifest.ts), opening and checking (open.ts), creating and
// exporting (write.ts), learned prompt sets and adaptors (prompt-sets.ts), and telling any model
// folder apart (inspect.ts).
export * from './layout';
export * from './manifest';
export * from './open';
export { createBundle, exportBundle, type BundleParts, type CreateBundleOptions } from './write';
export * from './prompt-sets';
export * from './inspect';
