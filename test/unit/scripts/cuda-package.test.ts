// `npm run gpu:install` verifies the NuGet package before installing anything (size and sha256
// against the pin, or NuGet's published SHA-512), extracts the EP files with a record of their
// sizes and hashes, and the engine's CUDA check refuses a file that no longer matches that record.
// A fake .nupkg (a zip with the package's paths) stands in for the real download.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  INSTALL_RECORD,
  PINNED_PACKAGES,
  extractProviderFiles,
  fileDigests,
  pinFor,
  verifyPackage,
} from '../../../scripts/cuda-package.mjs';
import { CUDA_EP_FILES, CUDA_INSTALL_RECORD, CUDA_SYSTEM_LIBRARIES, checkCudaLibraries } from '../../../src/native/runtime/cuda-libraries';
import { removeTmpDirs, tmpDir } from '../../helpers/tmp';

afterAll(removeTmpDirs);

interface Zip {
  addFile(name: string, data: Buffer): void;
  writeZip(file: string): void;
}
const ortRequire = createRequire(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
const AdmZip = ortRequire('adm-zip') as new () => Zip;

const elf = (size: number, fill: number) => {
  const b = Buffer.alloc(size, fill);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46]).copy(b);
  return b;
};
const ENTRIES = CUDA_EP_FILES.map((file) => ({ file, pathInPackage: `runtimes/linux-x64/native/${file}` }));

function fakeNupkg(): string {
  const zip = new AdmZip();
  ENTRIES.forEach((e, i) => zip.addFile(e.pathInPackage, elf(5000 + i, i + 1)));
  const file = path.join(tmpDir('cleft-nupkg-'), 'microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg');
  zip.writeZip(file);
  return file;
}

describe('the CUDA package pins', () => {
  it('sit in one table keyed by the onnxruntime-node version of package.json', () => {
    const ortVersion = (JSON.parse(fs.readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }).version;
    expect(Object.keys(PINNED_PACKAGES)).toContain(ortVersion);
    expect(pinFor(ortVersion, 'linux/x64')).toMatchObject({ id: 'Microsoft.ML.OnnxRuntime.Gpu.Linux' });
    expect(pinFor(ortVersion, 'darwin/arm64')).toBeNull();
    expect(INSTALL_RECORD).toBe(CUDA_INSTALL_RECORD); // the script and the engine name one file
  });
});

describe('verifyPackage', () => {
  it('accepts the package whose size and sha256 match, and NuGet’s SHA-512', async () => {
    const file = fakeNupkg();
    const bytes = fs.readFileSync(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const sha512Base64 = createHash('sha512').update(bytes).digest('base64');
    expect(await fileDigests(file)).toEqual({ size: bytes.length, sha256, sha512Base64 });
    await expect(verifyPackage(file, { size: bytes.length, sha256 })).resolves.toMatchObject({ sha256 });
    await expect(verifyPackage(file, { size: bytes.length, sha512Base64 })).resolves.toMatchObject({ sha512Base64 });
  });

  it('refuses a wrong size, a wrong hash, or nothing to compare with, saying what it expected', async () => {
    const file = fakeNupkg();
    const { size, sha256 } = await fileDigests(file);
    await expect(verifyPackage(file, { size: size + 1, sha256 })).rejects.toThrow(
      `microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg is ${size} bytes, expected ${size + 1} (an incomplete or different download); nothing was installed`,
    );
    await expect(verifyPackage(file, { size, sha256: '0'.repeat(64) })).rejects.toThrow(
      `has sha256 ${sha256}, expected ${'0'.repeat(64)} (a damaged or different package)`,
    );
    await expect(verifyPackage(file, { size, sha512Base64: 'AAAA' })).rejects.toThrow(/NuGet publishes AAAA; nothing was installed/);
    await expect(verifyPackage(file, { size })).rejects.toThrow(/no hash to verify .* against/);
  });
});

describe('extractProviderFiles and the engine check', () => {
  it('installs the EP files with a record the CUDA check holds them to', () => {
    const file = fakeNupkg();
    const binDir = tmpDir('cleft-bin-');
    const record = extractProviderFiles(file, ENTRIES, binDir, { package: 'Microsoft.ML.OnnxRuntime.Gpu.Linux', version: '1.30.0' });
    for (const [i, e] of ENTRIES.entries()) {
      const data = fs.readFileSync(path.join(binDir, e.file));
      expect(data.length).toBe(5000 + i);
      expect(record.files[e.file]).toEqual({ size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    }
    expect(fs.readdirSync(binDir).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(binDir, INSTALL_RECORD), 'utf8'))).toMatchObject({ version: '1.30.0' });

    // The engine's check: CUDA libraries present (fakes), EP files as installed: nothing wrong.
    const lib = tmpDir('cleft-cuda-lib-');
    for (const f of CUDA_SYSTEM_LIBRARIES) fs.writeFileSync(path.join(lib, f), elf(4096, 9));
    const search = { epDir: binDir, dirs: [lib], ldCache: new Map<string, string>() };
    expect(checkCudaLibraries(search).problems).toEqual([]);
    // A truncated EP file (an interrupted copy) no longer matches the record.
    const cuda = path.join(binDir, 'libonnxruntime_providers_cuda.so');
    fs.truncateSync(cuda, 4000);
    expect(checkCudaLibraries(search).problems).toEqual([
      {
        file: 'libonnxruntime_providers_cuda.so',
        problem: `${cuda} is 4000 bytes, the install recorded ${record.files['libonnxruntime_providers_cuda.so']!.size} (damaged: run \`npm run gpu:install\` again)`,
      },
    ]);
  });

  it('installs nothing more when the package lacks a file, naming it', () => {
    const zip = new AdmZip();
    zip.addFile(ENTRIES[0]!.pathInPackage, elf(100, 1));
    const file = path.join(tmpDir('cleft-nupkg-'), 'partial.nupkg');
    zip.writeZip(file);
    const binDir = tmpDir('cleft-bin-');
    expect(() => extractProviderFiles(file, ENTRIES, binDir, {})).toThrow(
      `partial.nupkg has no ${ENTRIES[1]!.pathInPackage}; nothing more was installed`,
    );
    expect(fs.existsSync(path.join(binDir, INSTALL_RECORD))).toBe(false);
  });
});
