#!/usr/bin/env node
// Opt-in: fetch onnxruntime-node's CUDA execution provider binaries (npm run gpu:install).
//
// CLEFT never runs this by itself: the app works offline on CPU, and this step downloads
// ~hundreds of MB from NuGet (api.nuget.org). It re-runs onnxruntime-node's own postinstall script
// (node_modules/onnxruntime-node/script/install.js) with the CUDA flag set, so the files, versions
// and checks are exactly the package's own.
//
// Facts about that script in onnxruntime-node 1.30 (read from script/install.js, install-utils.js):
// - Only linux/x64 has a CUDA manifest: libonnxruntime_providers_{cuda,shared,tensorrt}.so from the
//   NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0, copied into bin/napi-v6/linux/x64.
// - ONNXRUNTIME_NODE_INSTALL (or npm_config_onnxruntime_node_install) wins over everything; "skip"
//   disables the install. We therefore remove both from the child's environment.
// - ONNXRUNTIME_NODE_INSTALL=cuda12, although documented in the script's header, is parsed to
//   "unspecified" (its switch falls through without returning), and an unspecified flag under
//   `npm run` exits 0 silently as a "local install". ONNXRUNTIME_NODE_INSTALL_CUDA=v12 is what
//   reliably forces the CUDA 12 download, so that is what we set. (ONNXRUNTIME_NODE_INSTALL_CUDA=true
//   asks `nvcc --version`; with CUDA 13's nvcc, as on our dev machine, it also ends "unspecified".)
// - A download failure is an unhandled rejection: non-zero exit code with a stack trace.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';

const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const dryRun = args.has('--dry-run');

const REQUIREMENTS = `Requirements for the CUDA execution provider (onnxruntime-node 1.30):
  - Linux x64 (the package's installer has no CUDA download for other platforms)
  - an NVIDIA GPU and driver (nvidia-smi works)
  - CUDA 12.x runtime libraries (libcudart.so.12, libcublas.so.12, libcublasLt.so.12, libcufft.so.11,
    libcurand.so.10) and cuDNN 9 (libcudnn.so.9) on the library path (ldconfig or LD_LIBRARY_PATH)
  - internet access to https://api.nuget.org (this step only; CLEFT itself stays offline)`;

function fail(message) {
  console.error(`\ngpu:install failed: ${message}\n\n${REQUIREMENTS}\n\nCLEFT keeps working on the CPU.`);
  process.exit(1);
}

// Guard: this must never run as part of an install.
const lifecycle = process.env.npm_lifecycle_event ?? '';
if (['preinstall', 'install', 'postinstall', 'prepare'].includes(lifecycle)) {
  fail(`refusing to run from the npm "${lifecycle}" hook; run \`npm run gpu:install\` explicitly.`);
}

if (args.has('--help') || args.has('-h')) {
  console.log(`Usage: npm run gpu:install [-- --dry-run]\n\nDownloads the CUDA 12 EP binaries for onnxruntime-node.\n\n${REQUIREMENTS}`);
  process.exit(0);
}

const platform = `${process.platform}/${process.arch}`;
let ortDir;
try {
  ortDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
} catch {
  fail('onnxruntime-node is not installed; run `npm ci` first.');
}
const ortVersion = require('onnxruntime-node/package.json').version;
const installScript = path.join(ortDir, 'script', 'install.js');
const binDir = path.join(ortDir, 'bin', 'napi-v6', process.platform, process.arch);
const metadata = require(path.join(ortDir, 'script', 'install-metadata.js'));
const manifest = metadata.manifests?.[`${platform}:cuda12`];
if (!manifest) {
  fail(`onnxruntime-node ${ortVersion} offers no CUDA 12 binaries for ${platform}.`);
}
const files = Object.keys(manifest).map((f) => path.join(binDir, f));

console.log(`onnxruntime-node ${ortVersion} on ${platform}`);
console.log(REQUIREMENTS);
console.log('\nChecking this machine (warnings only; the download works without a GPU):');

function probe(label, cmd, argv, pick) {
  try {
    const out = execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    console.log(`  ok   ${label}: ${pick(out)}`);
  } catch {
    console.log(`  warn ${label}: not found`);
  }
}
probe('NVIDIA driver', 'nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], (o) => o.trim().split('\n').join('; '));
probe('CUDA toolkit (nvcc, optional)', 'nvcc', ['--version'], (o) => {
  const v = /release ([\d.]+)/.exec(o)?.[1] ?? 'unknown version';
  // The EP is built against CUDA 12; a CUDA 13 toolkit alone does not provide libcudart.so.12.
  return v.startsWith('12.') ? v : `${v} (the EP needs the CUDA 12 runtime libraries; a ${v} toolkit alone does not provide them)`;
});
let ldcache = '';
try {
  ldcache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
} catch {
  /* ldconfig missing: cannot check, LD_LIBRARY_PATH may still provide the libraries */
}
for (const lib of ['libcudart.so.12', 'libcublas.so.12', 'libcudnn.so.9']) {
  const found = ldcache.includes(lib) || (process.env.LD_LIBRARY_PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, lib)));
  console.log(`  ${found ? 'ok  ' : 'warn'} ${lib}: ${found ? 'found' : 'not found in ldconfig cache or LD_LIBRARY_PATH'}`);
}

const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL_CUDA: 'v12' };
for (const k of ['ONNXRUNTIME_NODE_INSTALL', 'npm_config_onnxruntime_node_install', 'npm_config_onnxruntime_node_install_cuda']) {
  delete env[k];
}

console.log(`\nWill run: ONNXRUNTIME_NODE_INSTALL_CUDA=v12 node ${installScript}`);
console.log(`Files it installs into ${binDir}:\n${files.map((f) => `  ${path.basename(f)}`).join('\n')}`);
if (dryRun) {
  console.log('\n--dry-run: nothing downloaded.');
  process.exit(0);
}

console.log('\nDownloading from NuGet (this can take several minutes)...');
const r = spawnSync(process.execPath, [installScript], { cwd: ortDir, env, stdio: 'inherit' });
if (r.error) fail(`could not start the installer: ${r.error.message}`);
if (r.status !== 0) {
  fail(
    `onnxruntime-node's installer exited with code ${r.status} (see its output above; no internet access to api.nuget.org is the usual cause).`,
  );
}
const missing = files.filter((f) => !existsSync(f));
if (missing.length > 0) {
  fail(`the installer finished but these files are missing: ${missing.map((f) => path.basename(f)).join(', ')}.`);
}
console.log('\nCUDA EP binaries installed. Check that they load on this machine:  npx cleft doctor');
console.log('(Use --device cuda:0 to require the GPU; --device auto falls back to the CPU with the reason.)');
