// One Content-Security-Policy for the renderer, wherever it is served from (Electron or web host).
// 'wasm-unsafe-eval' lets the image codecs (WebAssembly) compile; nothing else may evaluate code.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  // Svelte transitions and the viewer set inline style attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
