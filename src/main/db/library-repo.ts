// Read-side queries over the imported library.
import type { LibraryStats } from '../../common/contract';
import type { Db } from './database';

export class LibraryRepo {
  constructor(private readonly db: Db) {}

  stats(): LibraryStats {
    const count = (table: string): number => (this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      patients: count('patients'),
      studies: count('studies'),
      series: count('series'),
      instances: count('instances'),
      labels: count('labels'),
      predictions: count('predictions'),
      models: count('models'),
    };
  }
}
