// Serves decoded frames to the viewer: a small pool of decode threads, a byte-bounded LRU cache
// (flipping between the views of an exam must not decode again), and one decode per frame even
// when several requests for it arrive at once.
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { encodeBinary, type FrameMeta, type FrameRequest } from '../../common/binary';
import { CleftError } from '../../common/errors';
import type { Db } from '../db/database';
import { ImagesRepo } from '../db/images-repo';
import { startThread } from '../workers/thread-launcher';
import { workerEntry } from '../workers/built-entry';

interface Pending {
  resolve: (r: { meta: FrameMeta; data: Uint8Array }) => void;
  reject: (e: Error) => void;
}

const CACHE_BYTES = 512 * 1024 * 1024;

export class FrameService {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private readonly cache = new Map<string, Uint8Array>();
  private cacheBytes = 0;
  private readonly images: ImagesRepo;
  private nextId = 1;
  private turn = 0;

  constructor(
    db: Db,
    private readonly poolSize = Math.max(1, Math.min(2, os.availableParallelism() - 1)),
  ) {
    this.images = new ImagesRepo(db);
  }

  /** The encoded binary response (metadata + pixels) for a frame request. */
  async frame(req: FrameRequest): Promise<Uint8Array> {
    const row = this.images.file(req.instanceId);
    if (!row) throw new CleftError('not_found', `no image with id ${req.instanceId}`);
    const key = `${req.instanceId}:${req.frame}:${req.maxSize ?? 0}:${row.fileMtimeMs}:${row.fileSize}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit); // most recently used last
      return hit;
    }
    let running = this.inflight.get(key);
    if (!running) {
      running = this.decode({ instanceId: req.instanceId, file: row.filePath, frame: req.frame, maxSize: req.maxSize })
        .then(({ meta, data }) => {
          const encoded = encodeBinary(meta, data);
          this.remember(key, encoded);
          return encoded;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
    for (const p of this.pending.values()) p.reject(new Error('frame service closed'));
    this.pending.clear();
  }

  private remember(key: string, value: Uint8Array): void {
    if (value.byteLength > CACHE_BYTES / 4) return;
    this.cache.set(key, value);
    this.cacheBytes += value.byteLength;
    for (const [k, v] of this.cache) {
      if (this.cacheBytes <= CACHE_BYTES) break;
      this.cache.delete(k);
      this.cacheBytes -= v.byteLength;
    }
  }

  private worker(): Worker {
    if (this.workers.length < this.poolSize) {
      const w = startThread(workerEntry(import.meta.url, 'frame-worker.ts', 'frame-worker'));
      w.on('message', (m: { id: number; meta?: FrameMeta; data?: Uint8Array; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(new CleftError('invalid_input', m.error));
        else p.resolve({ meta: m.meta!, data: m.data! });
      });
      w.on('error', (err) => {
        // A crashed decoder fails its requests; the next request starts a fresh thread.
        const i = this.workers.indexOf(w);
        if (i >= 0) this.workers.splice(i, 1);
        for (const [id, p] of this.pending) {
          p.reject(new CleftError('internal', `image decoder stopped: ${err.message}`));
          this.pending.delete(id);
        }
      });
      w.unref();
      this.workers.push(w);
      return w;
    }
    return this.workers[this.turn++ % this.workers.length]!;
  }

  private decode(job: {
    instanceId: number;
    file: string;
    frame: number;
    maxSize?: number | undefined;
  }): Promise<{ meta: FrameMeta; data: Uint8Array }> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker().postMessage({ id, job });
    });
  }
}
