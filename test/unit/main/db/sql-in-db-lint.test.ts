// SQL lives in src/main/db: the lint rule fails a better-sqlite3 import and prepare/exec/pragma
// with SQL anywhere else in src/main, and leaves the repositories (and regular expressions) alone.
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../../../..');
const SQL = `import type { Db } from '../db/database';
export function count(db: Db): number {
  db.exec(\`CREATE TEMP TABLE t (x)\`);
  db.pragma('user_version');
  return (db.prepare('SELECT count(*) AS n FROM studies').get() as { n: number }).n;
}
`;
const IMPORT = `import Database from 'better-sqlite3';\nexport const open = (f: string) => new Database(f);\n`;
const REGEX = `export const year = (s: string): string | undefined => /^(\\d{4})/.exec(s)?.[1];\n`;

async function sqlProblems(code: string, file: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: ROOT }).lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => /SQL lives in src\/main\/db/.test(m.message)).map((m) => `${m.line}:${m.ruleId}`);
}

describe('SQL outside src/main/db fails lint', () => {
  it('prepare, exec and pragma calls with SQL, and better-sqlite3 imports, outside db/', { timeout: 120_000 }, async () => {
    expect(await sqlProblems(SQL, 'src/main/jobs/kinds/probe.ts')).toEqual([
      '3:no-restricted-syntax',
      '4:no-restricted-syntax',
      '5:no-restricted-syntax',
    ]);
    expect(await sqlProblems(IMPORT, 'src/main/cli/probe.ts')).toEqual(['1:no-restricted-imports']);
  });

  it('the same code in a repository, and a regular expression anywhere, pass', { timeout: 120_000 }, async () => {
    expect(await sqlProblems(SQL.replace('../db/database', './database'), 'src/main/db/probe.ts')).toEqual([]);
    expect(await sqlProblems(IMPORT, 'src/main/db/probe.ts')).toEqual([]);
    expect(await sqlProblems(REGEX, 'src/main/library/probe.ts')).toEqual([]);
  });
});
