// Entry of an engine worker thread. Kept tiny: everything lives in engine-server.ts so the same
// server can run behind an Electron utilityProcess transport later.
import { serveEngine } from './engine-server';
import { parentPortTransport } from './transport';

serveEngine(parentPortTransport());
