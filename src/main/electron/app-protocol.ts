// Serves the built renderer from app://renderer/ instead of file://, so the page has a real
// origin, gets the CSP header, and cannot read arbitrary local files. Files are read with Node's
// fs (which reads inside app.asar) rather than net.fetch('file://'), so the packaged app can turn
// off the grantFileProtocolExtraPrivileges fuse (electron-builder.yml): nothing uses file:// at all.
import { protocol } from 'electron';
import fs from 'node:fs';
import path from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../../common/csp';
import { resolveStaticFile } from '../server/static-files';

export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

export function serveRenderer(rendererDir: string): void {
  const root = path.resolve(rendererDir);
  protocol.handle('app', async (request) => {
    const url = new URL(request.url);
    const found = url.host === 'renderer' ? resolveStaticFile(root, url.pathname) : null;
    if (!found) return new Response('not found', { status: 404 });
    let body: Buffer;
    try {
      body = await fs.promises.readFile(found.file);
    } catch {
      return new Response('not found', { status: 404 });
    }
    const headers = new Headers({ 'Content-Type': found.type, 'Content-Security-Policy': CONTENT_SECURITY_POLICY });
    return new Response(new Uint8Array(body), { status: 200, headers });
  });
}
