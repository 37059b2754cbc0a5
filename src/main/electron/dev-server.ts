// The renderer's dev server (electron-vite sets ELECTRON_RENDERER_URL in `npm run dev`). A packaged
// app never uses one: otherwise anyone who can set an environment variable for it could point the
// window, and the IPC access it grants, at a page of their own.
export function devServerUrl(env: NodeJS.ProcessEnv, isPackaged: boolean): string | undefined {
  if (isPackaged) return undefined;
  const url = env.ELECTRON_RENDERER_URL;
  return url ? url : undefined;
}
