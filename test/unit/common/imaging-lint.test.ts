// The lint rule that keeps imaging math in src/common/imaging (eslint.config.js,
// cleft/imaging-from-common): it reports second definitions, imports through other modules,
// re-exports and VOI function literals (`npx eslint .` keeps the project's own files clean).
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');
const eslint = new ESLint({ cwd: root });

async function ruleMessages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'cleft/imaging-from-common').map((m) => m.message);
}

describe('cleft/imaging-from-common', () => {
  it('reports a second definition, an import through another module, a re-export and a VOI literal', async () => {
    const code = [
      "import { applyWindow } from './lut';",
      "export { edgeBands } from '../../../common/imaging/chest-wall';",
      'export function chestWallFromOrientation(x: string): string {',
      "  return x === 'SIGMOID' ? applyWindow.name : '';",
      '}',
      'export const windowMapper = (): number => 1;',
    ].join('\n');
    const messages = await ruleMessages('src/main/dicom/pipeline/probe.ts', code);
    expect(messages).toEqual([
      "'applyWindow' comes from src/common/imaging/voi.ts: import it from there, not through './lut'.",
      "'edgeBands' re-exported: import it from src/common/imaging/chest-wall.ts directly.",
      "'chestWallFromOrientation' is defined in src/common/imaging/chest-wall.ts: import it from there instead of writing it again.",
      "VOI function 'SIGMOID': window functions are implemented in src/common/imaging/voi.ts; use VoiFunction and its helpers.",
      "'windowMapper' is defined in src/common/imaging/voi.ts: import it from there instead of writing it again.",
    ]);
  }, 60_000);

  it("checks the renderer too, and allows imports from src/common/imaging and the phantom writer's header values", async () => {
    const viewer = "import { normaliseVoiFunction } from '../../lib/viewer/voi';\nexport const f = normaliseVoiFunction('LINEAR_EXACT');\n";
    expect(await ruleMessages('src/renderer/src/lib/viewer/probe.ts', viewer)).toHaveLength(2);
    const fine =
      "import { normaliseVoiFunction } from '../../../../common/imaging/voi';\nexport const chestWall = normaliseVoiFunction(null);\n";
    expect(await ruleMessages('src/renderer/src/lib/viewer/probe.ts', fine)).toEqual([]);
    expect(await ruleMessages('src/main/dicom/phantom/probe.ts', "export const f = 'SIGMOID';\n")).toEqual([]);
  }, 60_000);
});
