// The CUDA EP's NuGet package: the pinned identity of each version we install, verifying a
// downloaded .nupkg against it, and extracting the EP libraries with a record of what was written.
// Used by scripts/install-cuda.mjs (npm run gpu:install); tested in test/unit/scripts/cuda-package.test.ts.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * THE pins: per onnxruntime-node version, the NuGet package the CUDA EP comes from, its size in
 * bytes and its sha256. This is the one place to update when package.json moves to another
 * onnxruntime-node.
 *
 * Not filled in for 1.30.0: this was written on a machine without internet, and neither the npm
 * package nor anything offline here carries the .nupkg's hash. Until a maintainer pins them (run
 * `npm run gpu:install` once with internet: it prints the size and sha256 it measured), the install
 * verifies the package against the SHA-512 and size NuGet publishes for it (its catalog entry),
 * which catches a damaged or substituted download but trusts nuget.org for the reference value.
 */
export const PINNED_PACKAGES = {
  '1.30.0': {
    'linux/x64': { id: 'Microsoft.ML.OnnxRuntime.Gpu.Linux', size: null, sha256: null },
  },
};

/** Written beside the installed files; the engine reads it (src/native/runtime/cuda-libraries.ts CUDA_INSTALL_RECORD). */
export const INSTALL_RECORD = 'cleft-cuda-install.json';

/** The pin for an onnxruntime-node version and platform ("linux/x64"), or null. */
export function pinFor(ortVersion, platform) {
  return PINNED_PACKAGES[ortVersion]?.[platform] ?? null;
}

/** sha256 (hex) and sha512 (base64, as NuGet publishes it) of a file, and its size. */
export async function fileDigests(file) {
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  await new Promise((resolve, reject) => {
    createReadStream(file)
      .on('data', (chunk) => {
        sha256.update(chunk);
        sha512.update(chunk);
      })
      .on('end', resolve)
      .on('error', reject);
  });
  return { size: statSync(file).size, sha256: sha256.digest('hex'), sha512Base64: sha512.digest('base64') };
}

/**
 * Checks a downloaded package against what is expected: `{ size, sha256 }` (a pin) and/or
 * `{ size, sha512Base64 }` (NuGet's published hash). Throws naming the file, what was expected and
 * what it is; returns the measured digests.
 */
export async function verifyPackage(file, expected) {
  const got = await fileDigests(file);
  const name = path.basename(file);
  if (expected.size != null && got.size !== expected.size)
    throw new Error(`${name} is ${got.size} bytes, expected ${expected.size} (an incomplete or different download); nothing was installed`);
  if (expected.sha256 != null && got.sha256 !== expected.sha256.toLowerCase())
    throw new Error(
      `${name} has sha256 ${got.sha256}, expected ${expected.sha256} (a damaged or different package); nothing was installed`,
    );
  if (expected.sha512Base64 != null && got.sha512Base64 !== expected.sha512Base64)
    throw new Error(`${name} has SHA-512 ${got.sha512Base64}, NuGet publishes ${expected.sha512Base64}; nothing was installed`);
  if (expected.sha256 == null && expected.sha512Base64 == null) throw new Error(`no hash to verify ${name} against; nothing was installed`);
  return got;
}

/**
 * Extracts each `{ file, pathInPackage }` of the package into `binDir` (each written to a temporary
 * name, then renamed: a failure leaves no half file) and records their sizes and sha256 with the
 * package's identity in INSTALL_RECORD. Reads the zip with onnxruntime-node's own adm-zip.
 */
export function extractProviderFiles(nupkg, entries, binDir, identity) {
  const ortRequire = createRequire(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const AdmZip = ortRequire('adm-zip');
  const zip = new AdmZip(nupkg);
  mkdirSync(binDir, { recursive: true });
  const files = {};
  for (const { file, pathInPackage } of entries) {
    const entry = zip.getEntry(pathInPackage);
    if (!entry) throw new Error(`${path.basename(nupkg)} has no ${pathInPackage}; nothing more was installed`);
    const data = entry.getData();
    const target = path.join(binDir, file);
    writeFileSync(`${target}.part`, data);
    renameSync(`${target}.part`, target);
    files[file] = { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  const record = { ...identity, installedAt: new Date().toISOString(), files };
  writeFileSync(path.join(binDir, INSTALL_RECORD), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** The record a previous install wrote, or null. */
export function readInstallRecord(binDir) {
  try {
    return JSON.parse(readFileSync(path.join(binDir, INSTALL_RECORD), 'utf8'));
  } catch {
    return null;
  }
}
