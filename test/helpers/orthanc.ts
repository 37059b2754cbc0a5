// A real Orthanc (Debian packages `orthanc` + `orthanc-dicomweb`) for archive tests: started by the
// test on 127.0.0.1 with a temporary storage folder and a free port, stopped by its PID. Nothing is
// reached but this server.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tmpDir } from './tmp';
import { until } from './wait';

export const ORTHANC_BIN = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface OrthancOptions {
  /** Basic-auth users (name → password); none means authentication is off. */
  users?: Record<string, string>;
  /** Storage (and index) folder to use, created if missing: a server restarted on it serves what an earlier one stored. */
  storageDir?: string;
}

export interface OrthancServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The DICOMweb root, e.g. http://127.0.0.1:PORT/dicom-web */
  readonly dicomWebUrl: string;
  readonly port: number;
  readonly pid: number;
  readonly storageDir: string;
  /** Uploads DICOM files through Orthanc's REST API (not DICOMweb); returns their Orthanc ids. */
  upload(files: readonly string[]): Promise<string[]>;
  /** GET on the REST API with the server's own credentials, parsed as JSON. */
  rest<T = unknown>(route: string): Promise<T>;
  /** SIGKILL, as a server that dies mid-transfer; resolves when the process has exited. */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit (idempotent). */
  stop(): Promise<void>;
}

export function requireOrthanc(): void {
  for (const f of [ORTHANC_BIN, DICOMWEB_PLUGIN])
    if (!fs.existsSync(f))
      throw new Error(`${f} is missing: apt-get install orthanc orthanc-dicomweb (Debian packages) for the archive tests`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts Orthanc and resolves once its REST API answers. Call `stop()` in afterAll. */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<OrthancServer> {
  requireOrthanc();
  const root = tmpDir('cleft-orthanc-');
  const storageDir = opts.storageDir ?? path.join(root, 'storage');
  fs.mkdirSync(storageDir, { recursive: true });
  const port = await freePort();
  const users = opts.users ?? {};
  const auth = Object.keys(users).length > 0;
  const config = {
    Name: 'cleft-test',
    StorageDirectory: storageDir,
    IndexDirectory: storageDir,
    HttpPort: port,
    DicomServerEnabled: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: auth,
    RegisteredUsers: users,
    HttpCompressionEnabled: false,
    StorageCompression: false,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
    ConcurrentJobs: 1,
  };
  const configFile = path.join(root, 'orthanc.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const logFile = path.join(root, 'orthanc.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(ORTHANC_BIN, [configFile], { cwd: root, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error('Orthanc did not start');
  const url = `http://127.0.0.1:${port}`;
  const first = Object.entries(users)[0];
  const headers: Record<string, string> = first
    ? { Authorization: `Basic ${Buffer.from(`${first[0]}:${first[1]}`).toString('base64')}` }
    : {};

  // Ready when /system answers; fail with Orthanc's own log if it exits first.
  await until(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`Orthanc exited during start-up:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
      return fetch(`${url}/system`, { headers }).then(
        (res) => res.ok,
        () => false, // not listening yet
      );
    },
    'Orthanc answering /system',
    600_000,
    100,
  );

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
  };
  return {
    url,
    dicomWebUrl: `${url}/dicom-web`,
    port,
    pid,
    storageDir,
    async upload(files) {
      const ids: string[] = [];
      for (const f of files) {
        const res = await fetch(`${url}/instances`, {
          method: 'POST',
          headers: { ...headers, 'Content-Type': 'application/dicom' },
          body: fs.readFileSync(f),
        });
        if (!res.ok) throw new Error(`Orthanc refused ${f}: HTTP ${res.status} ${await res.text()}`);
        ids.push(((await res.json()) as { ID: string }).ID);
      }
      return ids;
    },
    async rest<T>(route: string) {
      const res = await fetch(`${url}${route}`, { headers });
      if (!res.ok) throw new Error(`Orthanc GET ${route}: HTTP ${res.status}`);
      return (await res.json()) as T;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited(child);
    },
    stop,
  };
}
