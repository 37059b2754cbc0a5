// Worker thread that decodes frames for the viewer, so WebAssembly codecs never block the process
// that serves the UI.
import { parentPort } from 'node:worker_threads';
import { decodeForDisplay, type FrameJob } from './frame-decode';

if (!parentPort) throw new Error('frame-worker must run as a worker thread');
const port = parentPort;
port.on('message', (msg: { id: number; job: FrameJob }) => {
  decodeForDisplay(msg.job).then(
    ({ meta, data }) => port.postMessage({ id: msg.id, meta, data }, [data.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
