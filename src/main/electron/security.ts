// Hardening applied to every window and session: no navigation away from the app, no new
// windows, no webviews, every permission request denied, the renderer's CSP on every response.
import { session, shell, type WebContents } from 'electron';
import { CONTENT_SECURITY_POLICY } from '../../common/csp';

export const APP_ORIGIN = 'app://renderer';

export function isAppUrl(url: string, devServerUrl: string | undefined): boolean {
  if (url.startsWith(`${APP_ORIGIN}/`)) return true;
  return devServerUrl !== undefined && url.startsWith(devServerUrl);
}

export function hardenSession(devServerUrl: string | undefined): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    if (isAppUrl(details.url, devServerUrl)) headers['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
    callback({ responseHeaders: headers });
  });
  // Nothing in the app talks to the network; refuse anything that tries (patient data stays here).
  ses.webRequest.onBeforeRequest((details, callback) => {
    const allowed =
      isAppUrl(details.url, devServerUrl) ||
      details.url.startsWith('devtools://') ||
      details.url.startsWith('data:') ||
      details.url.startsWith('blob:');
    const devSocket = devServerUrl !== undefined && details.url.startsWith(devServerUrl.replace(/^http/, 'ws'));
    callback({ cancel: !(allowed || devSocket) });
  });
}

export function hardenContents(contents: WebContents, devServerUrl: string | undefined): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, devServerUrl)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url, devServerUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  void shell; // external links are not opened: the app has none, and offline use is the point.
}
