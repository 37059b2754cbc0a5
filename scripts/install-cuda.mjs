#!/usr/bin/env node
// Opt-in: fetch onnxruntime-node's CUDA execution provider binaries (npm run gpu:install).
//
// CLEFT never runs this by itself: the app works offline on CPU, and this step downloads
// ~hundreds of MB from NuGet (api.nuget.org). It installs the same files onnxruntime-node's own
// postinstall would (the file list and package come from its script/install-metadata.js), but
// downloads the .nupkg itself so that it can verify it before anything is installed: its size and
// sha256 against the pins in scripts/cuda-package.mjs (PINNED_PACKAGES, the one place they live),
// else against the SHA-512 and size NuGet publishes for the package. A mismatch installs nothing.
// The installed files' sizes and hashes are recorded beside them (cleft-cuda-install.json), and
// the engine's CUDA check refuses a file that no longer matches.
//
// Facts about onnxruntime-node 1.30's installer (script/install.js, install-utils.js), which we
// no longer run: only linux/x64 has a CUDA manifest (libonnxruntime_providers_{cuda,shared,tensorrt}.so
// from Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0, into bin/napi-v6/linux/x64); it deletes the
// downloaded .nupkg and checks no hash, which is why we download it ourselves.
//
//   npm run gpu:install [-- --dry-run] [-- --package FILE.nupkg]   (--package: a .nupkg downloaded by hand)
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractProviderFiles, pinFor, verifyPackage } from './cuda-package.mjs';

const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
const args = new Set(argv);
const dryRun = args.has('--dry-run');
const packageArg = argv.includes('--package') ? argv[argv.indexOf('--package') + 1] : undefined;

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
  console.log(
    `Usage: npm run gpu:install [-- --dry-run] [-- --package FILE.nupkg]\n\nDownloads the CUDA 12 EP binaries for onnxruntime-node, verifies the package (size, hash) and installs them.\n\n${REQUIREMENTS}`,
  );
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
const binDir = path.join(ortDir, 'bin', 'napi-v6', process.platform, process.arch);
const metadata = require(path.join(ortDir, 'script', 'install-metadata.js'));
const manifest = metadata.manifests?.[`${platform}:cuda12`];
if (!manifest) {
  fail(`onnxruntime-node ${ortVersion} offers no CUDA 12 binaries for ${platform}.`);
}

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
// The same list the engine checks (src/native/runtime/cuda-libraries.ts CUDA_SYSTEM_LIBRARIES).
for (const lib of ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9']) {
  const found = ldcache.includes(lib) || (process.env.LD_LIBRARY_PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, lib)));
  console.log(`  ${found ? 'ok  ' : 'warn'} ${lib}: ${found ? 'found' : 'not found in ldconfig cache or LD_LIBRARY_PATH'}`);
}

const pkgInfo = metadata.packages?.['nuget:linux/x64:cuda12'] ?? metadata.packages?.[`nuget:${platform}:cuda12`];
const pkgId = pkgInfo?.name;
const pkgVersion = pkgInfo?.versions?.[0]?.version ?? ortVersion;
if (!pkgId) fail(`onnxruntime-node ${ortVersion}'s install metadata names no NuGet package for ${platform}.`);
const entries = Object.entries(manifest).map(([file, m]) => ({ file: path.basename(file), pathInPackage: m.path }));
const pin = pinFor(ortVersion, platform);
const lower = pkgId.toLowerCase();
const nupkgUrl = `https://api.nuget.org/v3-flatcontainer/${lower}/${pkgVersion}/${lower}.${pkgVersion}.nupkg`;

console.log(`\nPackage: ${pkgId} ${pkgVersion}${packageArg ? ` (from ${packageArg})` : ` (${nupkgUrl})`}`);
console.log(
  pin?.sha256
    ? `Verified against the pin in scripts/cuda-package.mjs: ${pin.size} bytes, sha256 ${pin.sha256}`
    : `No pinned hash for onnxruntime-node ${ortVersion} in scripts/cuda-package.mjs: verified against the SHA-512 and size NuGet publishes.`,
);
console.log(`Files it installs into ${binDir}:\n${entries.map((e) => `  ${e.file}`).join('\n')}`);
if (dryRun) {
  console.log('\n--dry-run: nothing downloaded.');
  process.exit(0);
}

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/** NuGet's published hash and size of the package (registration leaf -> catalog entry). */
async function publishedHash() {
  const leaf = await getJson(`https://api.nuget.org/v3/registration5-semver1/${lower}/${pkgVersion}.json`);
  const entry = typeof leaf.catalogEntry === 'string' ? await getJson(leaf.catalogEntry) : leaf.catalogEntry;
  if (entry?.packageHashAlgorithm !== 'SHA512' || typeof entry.packageHash !== 'string')
    throw new Error(`NuGet's catalog entry for ${pkgId} ${pkgVersion} has no SHA512 packageHash`);
  return { sha512Base64: entry.packageHash, size: typeof entry.packageSize === 'number' ? entry.packageSize : null };
}

const temp = mkdtempSync(path.join(os.tmpdir(), 'cleft-cuda-'));
try {
  let file = packageArg ? path.resolve(packageArg) : path.join(temp, `${lower}.${pkgVersion}.nupkg`);
  if (!packageArg) {
    console.log('\nDownloading from NuGet (this can take several minutes)...');
    const res = await fetch(nupkgUrl).catch((e) => fail(`could not reach api.nuget.org: ${e.message}`));
    if (!res.ok || !res.body) fail(`${nupkgUrl} answered HTTP ${res.status}.`);
    await pipeline(Readable.fromWeb(res.body), createWriteStream(file));
  } else if (!existsSync(file)) fail(`--package ${packageArg}: no such file.`);
  const expected = pin?.sha256 ? { size: pin.size, sha256: pin.sha256 } : await publishedHash().catch((e) => fail(e.message));
  let got;
  try {
    got = await verifyPackage(file, expected);
  } catch (e) {
    fail(e.message);
  }
  console.log(`Verified ${path.basename(file)}: ${got.size} bytes, sha256 ${got.sha256}`);
  if (!pin?.sha256)
    console.log(
      `To pin it, set PINNED_PACKAGES['${ortVersion}']['${platform}'] in scripts/cuda-package.mjs to { size: ${got.size}, sha256: '${got.sha256}' }.`,
    );
  try {
    extractProviderFiles(file, entries, binDir, { package: pkgId, version: pkgVersion, size: got.size, sha256: got.sha256 });
  } catch (e) {
    fail(e.message);
  }
} finally {
  rmSync(temp, { recursive: true, force: true });
}
const missing = entries.map((e) => path.join(binDir, e.file)).filter((f) => !existsSync(f));
if (missing.length > 0) fail(`these files are missing after the install: ${missing.map((f) => path.basename(f)).join(', ')}.`);
console.log('\nCUDA EP binaries installed. Check that they load on this machine:  npx cleft doctor');
console.log('(Use --device cuda:0 to require the GPU; --device auto falls back to WebGPU or the CPU with the reason.)');
