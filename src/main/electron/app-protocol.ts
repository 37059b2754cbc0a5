// Serves the built renderer from app://renderer/ instead of file://, so the page has a real
// origin, gets the CSP header, and cannot read arbitrary local files.
import { net, protocol } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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
    const response = await net.fetch(pathToFileURL(found.file).href);
    const headers = new Headers(response.headers);
    headers.set('Content-Type', found.type);
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    return new Response(response.body, { status: 200, headers });
  });
}
