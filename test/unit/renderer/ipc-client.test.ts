// The Electron transport over a fake `window.cleft` bridge.
import { describe, expect, it, vi } from 'vitest';
import type { CleftBridge } from '../../../src/common/ipc';
import { CleftError } from '../../../src/common/errors';
import { IpcClient } from '../../../src/renderer/src/lib/client/ipc-client';

function fakeBridge(answer: (method: string, input: unknown) => Promise<unknown>) {
  let listener: ((event: string, payload: unknown) => void) | null = null;
  const unsubscribe = vi.fn();
  const bridge: CleftBridge = {
    invoke: vi.fn(answer),
    invokeBinary: vi.fn(async () => ({ ok: false as const, error: { code: 'unsupported', message: 'no frames here' } })),
    on: (l) => {
      listener = l;
      return unsubscribe;
    },
  };
  return { bridge, emit: (event: string, payload: unknown) => listener?.(event, payload), unsubscribe };
}

describe('IpcClient', () => {
  it('unwraps ok envelopes and passes method and input through', async () => {
    const { bridge } = fakeBridge(async () => ({ ok: true, value: { path: '/data' } }));
    const c = new IpcClient(bridge);
    await expect(c.invoke('dialog.openFolder', { title: 'Pick' })).resolves.toEqual({ path: '/data' });
    expect(bridge.invoke).toHaveBeenCalledWith('dialog.openFolder', { title: 'Pick' });
    expect(c.transport).toBe('ipc');
  });

  it('throws CleftError for error envelopes and for a failing bridge', async () => {
    const c1 = new IpcClient(fakeBridge(async () => ({ ok: false, error: { code: 'conflict', message: 'job 3 is done' } })).bridge);
    await expect(c1.invoke('jobs.resume', { id: 3 })).rejects.toMatchObject({ code: 'conflict', message: 'job 3 is done' });
    const c2 = new IpcClient(
      fakeBridge(async () => {
        throw new Error('No handler registered');
      }).bridge,
    );
    const err = await c2.invoke('app.info', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CleftError);
    expect((err as Error).message).toContain('No handler registered');
  });

  it('fans bridge events out by name, validated, and reports an always-open channel', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { bridge, emit, unsubscribe } = fakeBridge(async () => ({ ok: true, value: null }));
    const c = new IpcClient(bridge);
    const pages: string[] = [];
    c.on('ui.command', (cmd) => {
      if (cmd.command === 'navigate') pages.push(cmd.page);
    });
    emit('ui.command', { command: 'navigate', page: 'viewer' });
    emit('ui.command', { command: 'navigate', page: 'nowhere' });
    expect(pages).toEqual(['viewer']);
    const states: string[] = [];
    c.onConnection((s) => states.push(s.status));
    await Promise.resolve();
    expect(states).toEqual(['open']);
    c.close();
    expect(unsubscribe).toHaveBeenCalled();
  });
});
