// The only bridge between the sandboxed renderer and the back end: two functions, no Node APIs.
// Payloads are validated in the main process (src/main/api/dispatch.ts), never trusted here.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC_BINARY, IPC_EVENT, IPC_INVOKE, type CleftBridge } from '../common/ipc';

const bridge: CleftBridge = {
  invoke: (method, input) => ipcRenderer.invoke(IPC_INVOKE, method, input),
  invokeBinary: (method, input) => ipcRenderer.invoke(IPC_BINARY, method, input),
  on: (listener) => {
    const wrapped = (_e: IpcRendererEvent, event: string, payload: unknown): void => listener(event, payload);
    ipcRenderer.on(IPC_EVENT, wrapped);
    return () => ipcRenderer.removeListener(IPC_EVENT, wrapped);
  },
};

contextBridge.exposeInMainWorld('cleft', bridge);
