// User settings as key/value JSON rows, merged over defaults.
import { Settings } from '../../common/contract';
import type { Db } from './database';

export const DEFAULT_SETTINGS: Settings = {
  executionProvider: 'auto',
  threads: 0,
  annotator: 'researcher',
  sessionIdleMinutes: 10,
  sessionMemoryMb: 0,
  weights: 'float32',
};

export class SettingsRepo {
  constructor(private readonly db: Db) {}

  get(): Settings {
    const rows = this.db.prepare(`SELECT key, value_json FROM settings`).all() as { key: string; value_json: string }[];
    const stored: Record<string, unknown> = {};
    for (const r of rows) stored[r.key] = JSON.parse(r.value_json) as unknown;
    // A value written by another version that no longer validates falls back to its default.
    const merged = { ...DEFAULT_SETTINGS };
    for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) {
      const candidate = Settings.shape[key].safeParse(stored[key]);
      if (candidate.success) (merged as Record<string, unknown>)[key] = candidate.data;
    }
    return merged;
  }

  update(patch: Partial<Settings>): Settings {
    const upsert = this.db.prepare(
      `INSERT INTO settings (key, value_json) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json`,
    );
    this.db
      .transaction(() => {
        for (const [key, value] of Object.entries(patch)) if (value !== undefined) upsert.run(key, JSON.stringify(value));
      })
      .immediate();
    return this.get();
  }
}
