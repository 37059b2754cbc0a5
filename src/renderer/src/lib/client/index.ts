// Picks the transport: Electron's preload exposes `window.cleft`; in a browser the page talks to
// the local web host it was served from. Nothing else in the UI knows which one it got.
import type { CleftBridge } from '../../../../common/ipc';
import { HttpClient } from './http-client';
import { IpcClient } from './ipc-client';
import { takeToken } from './token';
import type { RendererClient } from './types';

export type { ConnectionState, ConnectionStatus, RendererClient } from './types';

function bridgeOf(win: Window): CleftBridge | null {
  const candidate = (win as Window & { cleft?: unknown }).cleft;
  if (typeof candidate === 'object' && candidate !== null && 'invoke' in candidate && 'on' in candidate) {
    return candidate as CleftBridge;
  }
  return null;
}

export function createClient(win: Window = window): RendererClient {
  const bridge = bridgeOf(win);
  if (bridge) return new IpcClient(bridge);
  return new HttpClient({ baseUrl: win.location.origin, token: takeToken(win) });
}
