#!/usr/bin/env node
// The `cleft` command. Runs the TypeScript sources through tsx so `npx cleft` works right after
// `npm ci`, with no build step; the packaged app ships the bundled CLI instead.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

process.env.ORT_DISABLE_TELEMETRY = '1';
register();
const here = path.dirname(fileURLToPath(import.meta.url));
const { main } = await import(pathToFileURL(path.join(here, '../src/main/cli/main.ts')).href);
await main(process.argv);
