// How the e2e tests find the web host that global-setup started.
export const ENV_URL = 'CLEFT_E2E_URL';
export const ENV_PID = 'CLEFT_E2E_SERVER_PID';
export const ENV_DATA_DIR = 'CLEFT_E2E_DATA_DIR';

export interface ServedApp {
  /** The address `cleft serve` printed, with its ?token=. */
  url: string;
  origin: string;
  token: string;
  dataDir: string;
}

export function servedApp(): ServedApp {
  const url = process.env[ENV_URL];
  const dataDir = process.env[ENV_DATA_DIR];
  if (!url || !dataDir)
    throw new Error(`${ENV_URL} is not set: run the tests through playwright.config.ts (its globalSetup starts the host)`);
  const parsed = new URL(url);
  const token = parsed.searchParams.get('token');
  if (!token) throw new Error(`the served URL has no token: ${url}`);
  return { url, origin: parsed.origin, token, dataDir };
}
